package io.rlhf4j.core.store;

import java.util.List;
import java.util.Optional;

/** Registered model versions, the active one of each kind, and the activation history kept for rollback. */
public final class VersionRepository {

    /**
     * The PostgreSQL channel an activation is announced on, with {@code kind:version} as its payload;
     * replicas LISTEN on it (see {@link ActivationEvents}). The notice is sent when the activation
     * commits, never for one rolled back.
     */
    public static final String CHANNEL = "rlhf4j_activations";

    private final Jdbc jdbc;

    VersionRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public void register(ModelVersion v) {
        jdbc.update(
                "INSERT INTO model_versions (version, kind, parent, path, manifest, state, created_at) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?)",
                v.version(),
                v.kind(),
                v.parent(),
                v.path(),
                v.manifestJson(),
                v.state(),
                v.createdAt());
    }

    /** Every version, oldest first. */
    public List<ModelVersion> all() {
        return jdbc.list(
                "SELECT version, kind, parent, path, manifest, state, created_at FROM model_versions "
                        + "ORDER BY created_at, version",
                r -> new ModelVersion(
                        r.getString(1),
                        r.getString(2),
                        r.getString(3),
                        r.getString(4),
                        r.getString(5),
                        r.getString(6),
                        r.getLong(7)));
    }

    public Optional<ModelVersion> find(String version) {
        return all().stream().filter(v -> v.version().equals(version)).findFirst();
    }

    /**
     * Makes {@code version} the active one of its kind and appends it to the activation history; every
     * replica on this store follows it.
     */
    public void activate(String kind, String version, long at) {
        jdbc.transaction(c -> {
            Jdbc.update(c, "DELETE FROM active_models WHERE kind = ?", kind);
            Jdbc.update(
                    c, "INSERT INTO active_models (kind, version, activated_at) VALUES (?, ?, ?)", kind, version, at);
            Jdbc.update(
                    c,
                    "INSERT INTO activations (seq, kind, version, activated_at, forced) "
                            + "SELECT COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM activations WHERE kind = ?",
                    kind,
                    version,
                    at,
                    false,
                    kind);
            if (!jdbc.sqlite()) {
                Jdbc.list(c, "SELECT pg_notify(?, ?)", r -> null, CHANNEL, kind + ":" + version);
            }
        });
    }

    /** Versions of {@code kind} in the order they were activated, oldest first (repeats included). */
    public List<String> activationHistory(String kind) {
        return jdbc.list("SELECT version FROM activations WHERE kind = ? ORDER BY seq", r -> r.getString(1), kind);
    }

    /** Marks a version unregistered; the active version cannot be. */
    public void unregister(String version) {
        jdbc.transaction(c -> {
            if (Jdbc.count(c, "SELECT COUNT(*) FROM active_models WHERE version = ?", version) > 0) {
                throw new IllegalStateException("version " + version + " is active; promote another first");
            }
            if (Jdbc.update(
                            c,
                            "UPDATE model_versions SET state = ? WHERE version = ?",
                            ModelVersion.UNREGISTERED,
                            version)
                    == 0) {
                throw new IllegalArgumentException("no version " + version);
            }
        });
    }

    /** The active version of {@code kind}, if one was ever activated. */
    public Optional<String> active(String kind) {
        return jdbc.first("SELECT version FROM active_models WHERE kind = ?", r -> r.getString(1), kind);
    }
}
