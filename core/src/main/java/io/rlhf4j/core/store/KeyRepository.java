package io.rlhf4j.core.store;

import java.util.Optional;

/** API keys, stored as their SHA-256 (see {@link ApiKey}). */
public final class KeyRepository {

    private final Jdbc jdbc;

    KeyRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public void create(ApiKey k) {
        jdbc.update(
                "INSERT INTO api_keys (key_hash, prefix, user_id, role, may_set_user, requests_per_minute, "
                        + "created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                k.hash(),
                k.prefix(),
                k.userId(),
                k.role(),
                k.maySetUser(),
                k.requestsPerMinute(),
                k.createdAt());
    }

    /** The key with this hash, revoked or not. */
    public Optional<ApiKey> find(String hash) {
        return jdbc.first(
                "SELECT key_hash, prefix, user_id, role, may_set_user, requests_per_minute, created_at, "
                        + "revoked_at FROM api_keys WHERE key_hash = ?",
                r -> new ApiKey(
                        r.getString(1),
                        r.getString(2),
                        r.getString(3),
                        r.getString(4),
                        r.getBoolean(5),
                        r.getInt(6),
                        r.getLong(7),
                        Jdbc.nullableLong(r, 8)),
                hash);
    }

    /** Keys not revoked. */
    public long countActive() {
        return jdbc.count("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL");
    }

    /**
     * Keys ever created, revoked ones included: zero means a fresh install, which a loopback server may
     * serve in open mode without being asked; revoking every key must not reopen it.
     */
    public long countEver() {
        return jdbc.count("SELECT COUNT(*) FROM api_keys");
    }

    /** Revokes the keys that start with {@code prefix}; returns how many. */
    public int revoke(String prefix, long at) {
        return jdbc.update("UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL", at, prefix);
    }
}
