package io.rlhf4j.core.store;

/** Users' standing consent to training, and the deletion of everything a user sent. */
public final class ConsentRepository {

    /** What deleting a user removed. */
    public record Deletion(String userId, int prompts, int completions, int rankings, int demonstrations) {
        /** Both passes of one deletion together. */
        public Deletion plus(Deletion later) {
            return new Deletion(
                    userId,
                    prompts + later.prompts,
                    completions + later.completions,
                    rankings + later.rankings,
                    demonstrations + later.demonstrations);
        }
    }

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

    /**
     * Deletes everything a user sent and every judgement of it, in one transaction, and leaves a
     * tombstone: a prompt of theirs sent at or before {@code at} that commits later (it was in flight)
     * is not written ({@link PromptRepository#log}), and the dataset builder drops what it read before.
     * Their API keys are revoked. An opt-out outlives the deletion: the user stays opted out.
     */
    public Deletion deleteUser(String userId, long at) {
        return jdbc.inTransaction(c -> {
            Jdbc.update(
                    c,
                    "INSERT INTO deleted_users (user_id, deleted_at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE "
                            + "SET deleted_at = CASE WHEN excluded.deleted_at > deleted_users.deleted_at "
                            + "THEN excluded.deleted_at ELSE deleted_users.deleted_at END",
                    userId,
                    at);
            Jdbc.update(c, "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", at, userId);
            // Read after the first write (SQLite: see PromptRepository.log).
            boolean optedOut = !Jdbc.first(
                            c, "SELECT consent_to_training FROM users WHERE id = ?", r -> r.getBoolean(1), userId)
                    .orElse(true);
            String mine = "SELECT id FROM prompts WHERE user_id = ?";
            String myRankings = "SELECT id FROM rankings WHERE prompt_id IN (" + mine + ")";
            Jdbc.update(c, "DELETE FROM ranking_labels WHERE ranking_id IN (" + myRankings + ")", userId);
            Jdbc.update(c, "DELETE FROM ranking_entries WHERE ranking_id IN (" + myRankings + ")", userId);
            int rankings = Jdbc.update(c, "DELETE FROM rankings WHERE prompt_id IN (" + mine + ")", userId);
            int demos = Jdbc.update(c, "DELETE FROM demonstrations WHERE prompt_id IN (" + mine + ")", userId);
            Jdbc.update(c, "DELETE FROM labeling_skips WHERE prompt_id IN (" + mine + ")", userId);
            int completions = Jdbc.update(c, "DELETE FROM completions WHERE prompt_id IN (" + mine + ")", userId);
            int prompts = Jdbc.update(c, "DELETE FROM prompts WHERE user_id = ?", userId);
            if (!optedOut) {
                Jdbc.update(c, "DELETE FROM users WHERE id = ?", userId);
            }
            return new Deletion(userId, prompts, completions, rankings, demos);
        });
    }

    /** When the user was last deleted, if ever. */
    public java.util.Optional<Long> deletedAt(String userId) {
        return jdbc.first("SELECT deleted_at FROM deleted_users WHERE user_id = ?", r -> r.getLong(1), userId);
    }

    /** The users deleted at or after {@code since}, with when. */
    public java.util.Map<String, Long> deletedSince(long since) {
        java.util.Map<String, Long> out = new java.util.HashMap<>();
        for (Object[] row : jdbc.list(
                "SELECT user_id, deleted_at FROM deleted_users WHERE deleted_at >= ?",
                r -> new Object[] {r.getString(1), r.getLong(2)},
                since)) {
            out.put((String) row[0], (Long) row[1]);
        }
        return out;
    }
}
