package io.rlhf4j.core.store;

/** Users' standing consent to training, and the deletion of everything a user sent. */
public final class ConsentRepository {

    /** What deleting a user removed. */
    public record Deletion(String userId, int prompts, int completions, int rankings, int demonstrations) {}

    private final Jdbc jdbc;

    ConsentRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** A user's standing consent; users never seen consent by default. */
    public boolean given(String userId) {
        return jdbc.first("SELECT consent_to_training FROM users WHERE id = ?", r -> r.getBoolean(1), userId)
                .orElse(true);
    }

    /**
     * Sets a user's consent to training. It applies to the prompts already stored as well, so an
     * opt-out keeps their past prompts out of every later snapshot. Returns how many prompts changed.
     */
    public int set(String userId, boolean consent, long at) {
        return jdbc.inTransaction(c -> {
            Jdbc.update(
                    c,
                    "INSERT INTO users (id, consent_to_training, created_at) VALUES (?, ?, ?) "
                            + "ON CONFLICT (id) DO UPDATE SET consent_to_training = excluded.consent_to_training",
                    userId,
                    consent,
                    at);
            // Opting back in restores only what the requests themselves allowed.
            return consent
                    ? Jdbc.update(
                            c,
                            "UPDATE prompts SET consent_to_training = ? WHERE user_id = ? "
                                    + "AND consent_to_training <> ? AND request_consent = ?",
                            true,
                            userId,
                            true,
                            true)
                    : Jdbc.update(
                            c,
                            "UPDATE prompts SET consent_to_training = ? WHERE user_id = ? "
                                    + "AND consent_to_training <> ?",
                            false,
                            userId,
                            false);
        });
    }

    /** Deletes everything a user sent and every judgement of it, in one transaction. */
    public Deletion deleteUser(String userId) {
        return jdbc.inTransaction(c -> {
            String mine = "SELECT id FROM prompts WHERE user_id = ?";
            String myRankings = "SELECT id FROM rankings WHERE prompt_id IN (" + mine + ")";
            Jdbc.update(c, "DELETE FROM ranking_labels WHERE ranking_id IN (" + myRankings + ")", userId);
            Jdbc.update(c, "DELETE FROM ranking_entries WHERE ranking_id IN (" + myRankings + ")", userId);
            int rankings = Jdbc.update(c, "DELETE FROM rankings WHERE prompt_id IN (" + mine + ")", userId);
            int demos = Jdbc.update(c, "DELETE FROM demonstrations WHERE prompt_id IN (" + mine + ")", userId);
            Jdbc.update(c, "DELETE FROM labeling_skips WHERE prompt_id IN (" + mine + ")", userId);
            int completions = Jdbc.update(c, "DELETE FROM completions WHERE prompt_id IN (" + mine + ")", userId);
            int prompts = Jdbc.update(c, "DELETE FROM prompts WHERE user_id = ?", userId);
            Jdbc.update(c, "DELETE FROM users WHERE id = ?", userId);
            return new Deletion(userId, prompts, completions, rankings, demos);
        });
    }
}
