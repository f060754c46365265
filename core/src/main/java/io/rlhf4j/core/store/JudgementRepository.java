package io.rlhf4j.core.store;

import java.util.ArrayList;
import java.util.List;

/**
 * Labelers' judgements of logged prompts (demonstrations, rankings with their scores and flags, skips)
 * and the labeling queue they define: the prompts nobody has judged yet.
 */
public final class JudgementRepository {

    private final Jdbc jdbc;

    JudgementRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public void addDemonstration(Judgement.Demonstration d) {
        jdbc.transaction(c -> {
            PromptRepository.requirePrompt(c, d.promptId());
            Jdbc.update(
                    c,
                    "INSERT INTO demonstrations (id, prompt_id, labeler_id, text, source, created_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?)",
                    d.id(),
                    d.promptId(),
                    d.labelerId(),
                    d.text(),
                    d.source(),
                    d.createdAt());
        });
    }

    /** Stores a ranking; every completion it names must be one of the prompt's. */
    public void addRanking(Judgement.Ranking r) {
        addRanking(r, List.of());
    }

    /** Stores a ranking with the labeler's per-completion scores and flags, in one transaction. */
    public void addRanking(Judgement.Ranking r, List<Judgement.Label> labels) {
        for (Judgement.Label l : labels) {
            if (!r.completions().contains(l.completion())) {
                throw new IllegalArgumentException(
                        "a label names completion " + l.completion() + ", which the ranking does not order");
            }
        }
        List<Object[]> entries = new ArrayList<>();
        for (int i = 0; i < r.ranks().length; i++) {
            entries.add(
                    new Object[] {r.id(), r.promptId() + "-" + r.completions().get(i), r.ranks()[i]});
        }
        List<Object[]> labelRows = new ArrayList<>();
        for (Judgement.Label label : labels) {
            labelRows.add(new Object[] {
                r.id(), r.promptId() + "-" + label.completion(), label.score(), Jdbc.json(label.flags())
            });
        }
        jdbc.transaction(c -> {
            PromptRepository.requirePrompt(c, r.promptId());
            for (int idx : r.completions()) {
                if (Jdbc.count(c, "SELECT COUNT(*) FROM completions WHERE id = ?", r.promptId() + "-" + idx) == 0) {
                    throw new IllegalArgumentException("prompt " + r.promptId() + " has no completion " + idx
                            + "; a ranking can only order completions that were served");
                }
            }
            Jdbc.update(
                    c,
                    "INSERT INTO rankings (id, prompt_id, labeler_id, source, created_at) VALUES (?, ?, ?, ?, ?)",
                    r.id(),
                    r.promptId(),
                    r.labelerId(),
                    r.source(),
                    r.createdAt());
            Jdbc.batch(c, "INSERT INTO ranking_entries (ranking_id, completion_id, rank) VALUES (?, ?, ?)", entries);
            Jdbc.batch(
                    c,
                    "INSERT INTO ranking_labels (ranking_id, completion_id, score, flags) VALUES (?, ?, ?, ?)",
                    labelRows);
        });
    }

    /** The labels stored with a ranking, by completion index. */
    public List<Judgement.Label> labels(String rankingId) {
        return jdbc.list(
                "SELECT c.idx, l.score, l.flags FROM ranking_labels l JOIN completions c "
                        + "ON c.id = l.completion_id WHERE l.ranking_id = ? ORDER BY c.idx",
                r -> new Judgement.Label(
                        r.getInt(1),
                        Jdbc.nullableInt(r, 2),
                        List.of(Jdbc.fromJson(
                                r.getString(3), String[].class, "ranking " + rankingId + ": bad flags JSON"))),
                rankingId);
    }

    /** Records that a labeler skipped a prompt (again is a no-op). */
    public void addSkip(String promptId, String labelerId, String reason, long at) {
        jdbc.transaction(c -> {
            PromptRepository.requirePrompt(c, promptId);
            Jdbc.update(
                    c,
                    jdbc.insertIgnoringConflict(
                            "labeling_skips", "prompt_id, labeler_id, reason, created_at", "prompt_id, labeler_id"),
                    promptId,
                    labelerId,
                    reason,
                    at);
        });
    }

    /**
     * Prompts a labeler may judge next, oldest first: the user consents to training, nobody has ranked
     * or demonstrated the prompt, and this labeler has not skipped it. The caller filters by split.
     */
    public List<PromptLog> labelingCandidates(String labelerId, int limit) {
        return labelingCandidates(labelerId, limit, 0);
    }

    /** As above, from the {@code offset}-th candidate on: callers page past prompts they cannot offer. */
    public List<PromptLog> labelingCandidates(String labelerId, int limit, int offset) {
        return jdbc.list(
                "SELECT " + PromptRepository.COLUMNS + " FROM prompts p WHERE p.consent_to_training "
                        + "AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.prompt_id = p.id) "
                        + "AND NOT EXISTS (SELECT 1 FROM demonstrations d WHERE d.prompt_id = p.id) "
                        + "AND NOT EXISTS (SELECT 1 FROM labeling_skips k WHERE k.prompt_id = p.id AND k.labeler_id = ?) "
                        + "ORDER BY p.created_at, p.id LIMIT ? OFFSET ?",
                PromptRepository::header,
                labelerId,
                limit,
                offset);
    }

    /** How many rankings and demonstrations exist: what the loop's schedule counts. */
    public long count() {
        return jdbc.count("SELECT (SELECT COUNT(*) FROM rankings) + (SELECT COUNT(*) FROM demonstrations)");
    }

    public List<Judgement.Demonstration> demonstrations() {
        return jdbc.list(
                "SELECT id, prompt_id, labeler_id, text, source, created_at FROM demonstrations "
                        + "ORDER BY created_at, id",
                r -> new Judgement.Demonstration(
                        r.getString(1), r.getString(2), r.getString(3), r.getString(4), r.getString(5), r.getLong(6)));
    }

    /** A ranking's row before its entries are read. */
    private record RankingRow(String id, String promptId, String labelerId, String source, long createdAt) {}

    public List<Judgement.Ranking> rankings() {
        return jdbc.inTransaction(c -> {
            List<Judgement.Ranking> out = new ArrayList<>();
            for (RankingRow head : Jdbc.list(
                    c,
                    "SELECT id, prompt_id, labeler_id, source, created_at " + "FROM rankings ORDER BY created_at, id",
                    r -> new RankingRow(
                            r.getString(1), r.getString(2), r.getString(3), r.getString(4), r.getLong(5)))) {
                List<int[]> entries = Jdbc.list(
                        c,
                        "SELECT c.idx, e.rank FROM ranking_entries e JOIN completions c "
                                + "ON c.id = e.completion_id WHERE e.ranking_id = ? ORDER BY c.idx",
                        r -> new int[] {r.getInt(1), r.getInt(2)},
                        head.id());
                out.add(new Judgement.Ranking(
                        head.id(),
                        head.promptId(),
                        head.labelerId(),
                        entries.stream().map(e -> e[0]).toList(),
                        entries.stream().mapToInt(e -> e[1]).toArray(),
                        head.source(),
                        head.createdAt()));
            }
            return out;
        });
    }
}
