package io.rlhf4j.core.store;

import java.util.List;
import java.util.UUID;

/** The audit log: admin actions that bypass a safeguard or destroy data. */
public final class AuditRepository {

    private final Jdbc jdbc;

    AuditRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public void append(String action, String detail, long at) {
        jdbc.update(
                "INSERT INTO audit_log (id, at, action, detail) VALUES (?, ?, ?, ?)",
                UUID.randomUUID().toString(),
                at,
                action,
                detail);
    }

    /** The audit log, oldest first, as {@code at action detail} lines. */
    public List<String> entries() {
        return jdbc.list(
                "SELECT at, action, detail FROM audit_log ORDER BY at, id",
                r -> r.getLong(1) + " " + r.getString(2) + " " + r.getString(3));
    }
}
