package io.rlhf4j.core.store;

import io.rlhf4j.core.chat.ChatMessage;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The prompt log: served (and imported) prompts, their users and every completion with its log-probs. */
public final class PromptRepository {

    /** The prompt columns {@link #header} reads, in its order; callers may alias the table as {@code p}. */
    static final String COLUMNS = "p.id, p.user_id, p.consent_to_training, p.source, p.text, p.model_version, "
            + "p.params, p.created_at, p.messages";

    private static final String INSERT_COMPLETION = "INSERT INTO completions (id, prompt_id, idx, model_version, "
            + "text, tokens, logprobs, finish_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private final Jdbc jdbc;

    PromptRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Writes a batch of request logs in one transaction (group commit). A log of a user deleted at or
     * after the log's time is dropped, not written: the request was in flight when its user was deleted.
     * Returns how many were written.
     */
    public int log(List<PromptLog> logs) {
        if (logs.isEmpty()) {
            return 0;
        }
        return jdbc.inTransaction(c -> {
            // Write before reading: SQLite fails a transaction that read and then wants to write
            // while another connection (another process) holds the write lock at once, without
            // waiting out busy_timeout; a write first waits for the lock like any other writer.
            Jdbc.update(c, "DELETE FROM deleted_users WHERE 1 = 0");
            java.util.Map<String, Long> deleted = new java.util.HashMap<>();
            for (String user : logs.stream().map(PromptLog::userId).distinct().toList()) {
                Jdbc.first(c, "SELECT deleted_at FROM deleted_users WHERE user_id = ?", r -> r.getLong(1), user)
                        .ifPresent(at -> deleted.put(user, at));
            }
            List<PromptLog> kept = logs.stream()
                    .filter(p -> !deleted.containsKey(p.userId()) || p.createdAt() > deleted.get(p.userId()))
                    .toList();
            write(c, kept);
            return kept.size();
        });
    }

    private void write(Connection c, List<PromptLog> logs) throws SQLException {
        if (logs.isEmpty()) {
            return;
        }
        List<Object[]> users = new ArrayList<>();
        List<Object[]> prompts = new ArrayList<>();
        List<Object[]> completions = new ArrayList<>();
        List<Object[]> optedOut = new ArrayList<>();
        for (PromptLog p : logs) {
            // A user's standing consent starts as given; only an opt-out (setConsent) changes it.
            users.add(new Object[] {p.userId(), true, p.createdAt()});
            prompts.add(new Object[] {
                p.id(),
                p.userId(),
                p.consent(),
                p.source(),
                Jdbc.text(p.text()),
                p.modelVersion(),
                p.paramsJson(),
                p.createdAt(),
                p.consent(),
                p.messages().isEmpty() ? null : Jdbc.json(p.messages())
            });
            for (PromptLog.Completion k : p.completions()) {
                completions.add(new Object[] {
                    p.id() + "-" + k.index(),
                    p.id(),
                    k.index(),
                    p.modelVersion(),
                    Jdbc.text(k.text()),
                    k.tokens(),
                    k.logprobs() == null ? null : Jdbc.json(k.logprobs()),
                    k.finishReason(),
                    p.createdAt()
                });
            }
            optedOut.add(new Object[] {false, p.id(), p.userId(), false});
        }
        Jdbc.batch(c, jdbc.insertIgnoringConflict("users", "id, consent_to_training, created_at", "id"), users);
        Jdbc.batch(
                c,
                "INSERT INTO prompts (id, user_id, consent_to_training, source, text, model_version, "
                        + "params, created_at, request_consent, messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                prompts);
        Jdbc.batch(c, INSERT_COMPLETION, completions);
        // A user who opted out stays out, whatever a single request says.
        Jdbc.batch(
                c,
                "UPDATE prompts SET consent_to_training = ? WHERE id = ? AND EXISTS "
                        + "(SELECT 1 FROM users u WHERE u.id = ? AND u.consent_to_training = ?)",
                optedOut);
    }

    /** Prompts, newest first. */
    public List<PromptLog> recent(int limit) {
        return jdbc.inTransaction(c -> {
            List<PromptLog> out = new ArrayList<>();
            for (PromptLog p : Jdbc.list(
                    c,
                    "SELECT " + COLUMNS + " FROM prompts p ORDER BY p.created_at DESC, p.id " + "LIMIT ?",
                    PromptRepository::header,
                    limit)) {
                out.add(withCompletions(c, p));
            }
            return out;
        });
    }

    /** One prompt with its completions. */
    public Optional<PromptLog> find(String id) {
        return jdbc.inTransaction(c -> {
            Optional<PromptLog> p =
                    Jdbc.first(c, "SELECT " + COLUMNS + " FROM prompts p WHERE p.id = ?", PromptRepository::header, id);
            return p.isEmpty() ? p : Optional.of(withCompletions(c, p.get()));
        });
    }

    public long count() {
        return jdbc.count("SELECT COUNT(*) FROM prompts");
    }

    /**
     * Appends completions to a logged prompt (the labeling queue samples fresh ones); their indexes
     * continue after the prompt's existing ones. Returns the stored completions with their indexes.
     */
    public List<PromptLog.Completion> addCompletions(
            String promptId, String modelVersion, List<PromptLog.Completion> fresh, long at) {
        return jdbc.inTransaction(c -> {
            requirePrompt(c, promptId);
            int next = (int)
                    Jdbc.count(c, "SELECT COALESCE(MAX(idx) + 1, 0) FROM completions WHERE prompt_id = ?", promptId);
            List<Object[]> rows = new ArrayList<>();
            List<PromptLog.Completion> out = new ArrayList<>();
            for (PromptLog.Completion k : fresh) {
                int idx = next++;
                rows.add(new Object[] {
                    promptId + "-" + idx,
                    promptId,
                    idx,
                    modelVersion,
                    Jdbc.text(k.text()),
                    k.tokens(),
                    null,
                    k.finishReason(),
                    at
                });
                out.add(new PromptLog.Completion(idx, k.text(), k.tokens(), null, k.finishReason()));
            }
            Jdbc.batch(c, INSERT_COMPLETION, rows);
            return out;
        });
    }

    /** A prompt row of {@link #COLUMNS}, without its completions. */
    static PromptLog header(ResultSet r) throws SQLException {
        String messages = r.getString(9);
        return new PromptLog(
                r.getString(1),
                r.getString(2),
                r.getBoolean(3),
                r.getString(4),
                r.getString(5),
                r.getString(6),
                r.getString(7),
                r.getLong(8),
                List.of(),
                messages == null
                        ? List.of()
                        : List.of(Jdbc.fromJson(
                                messages, ChatMessage[].class, "prompt " + r.getString(1) + ": bad messages JSON")));
    }

    /** Judgements and new completions must name a prompt that was served or imported. */
    static void requirePrompt(Connection c, String promptId) throws SQLException {
        if (Jdbc.count(c, "SELECT COUNT(*) FROM prompts WHERE id = ?", promptId) == 0) {
            throw new IllegalArgumentException("no prompt " + promptId + " was ever served or imported");
        }
    }

    private static PromptLog withCompletions(Connection c, PromptLog p) throws SQLException {
        List<PromptLog.Completion> completions = Jdbc.list(
                c,
                "SELECT idx, text, tokens, logprobs, finish_reason "
                        + "FROM completions WHERE prompt_id = ? ORDER BY idx",
                r -> {
                    String lp = r.getString(4);
                    float[] logprobs = lp == null
                            ? null
                            : Jdbc.fromJson(
                                    lp,
                                    float[].class,
                                    "completion " + p.id() + "/" + r.getInt(1) + ": bad logprobs JSON");
                    return new PromptLog.Completion(r.getInt(1), r.getString(2), r.getInt(3), logprobs, r.getString(5));
                },
                p.id());
        return new PromptLog(
                p.id(),
                p.userId(),
                p.consent(),
                p.source(),
                p.text(),
                p.modelVersion(),
                p.paramsJson(),
                p.createdAt(),
                completions,
                p.messages());
    }
}
