package io.rlhf4j.core.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/** The serving loop's training runs: each row is a run's durable state. */
public final class RunRepository {

    private static final String SELECT = "SELECT id, state, trigger_kind, stage, progress, snapshot, candidate, "
            + "gate, promoted, error, dir, config, created_at, updated_at FROM training_runs ";

    private final Jdbc jdbc;

    RunRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** Inserts the run, or updates what a run's progress changes when it is already stored. */
    public void save(TrainingRun t) {
        jdbc.transaction(c -> {
            if (Jdbc.update(
                            c,
                            "UPDATE training_runs SET state = ?, stage = ?, progress = ?, snapshot = ?, "
                                    + "candidate = ?, gate = ?, promoted = ?, error = ?, updated_at = ? WHERE id = ?",
                            t.state(),
                            t.stage(),
                            t.progress(),
                            t.snapshot(),
                            t.candidate(),
                            t.gateJson(),
                            t.promoted(),
                            t.error(),
                            t.updatedAt(),
                            t.id())
                    == 1) {
                return;
            }
            Jdbc.update(
                    c,
                    "INSERT INTO training_runs (id, state, trigger_kind, stage, progress, snapshot, candidate, "
                            + "gate, promoted, error, dir, config, created_at, updated_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    t.id(),
                    t.state(),
                    t.trigger(),
                    t.stage(),
                    t.progress(),
                    t.snapshot(),
                    t.candidate(),
                    t.gateJson(),
                    t.promoted(),
                    t.error(),
                    t.dir(),
                    t.configJson(),
                    t.createdAt(),
                    t.updatedAt());
        });
    }

    /** Training runs, newest first. */
    public List<TrainingRun> all() {
        return jdbc.list(SELECT + "ORDER BY created_at DESC, id DESC", RunRepository::run);
    }

    /** One run: the loop reads it every second while a run trains, so by key, not by listing all. */
    public Optional<TrainingRun> find(String id) {
        return jdbc.first(SELECT + "WHERE id = ?", RunRepository::run, id);
    }

    private static TrainingRun run(ResultSet r) throws SQLException {
        return new TrainingRun(
                r.getString(1),
                r.getString(2),
                r.getString(3),
                r.getString(4),
                r.getDouble(5),
                r.getString(6),
                r.getString(7),
                r.getString(8),
                r.getBoolean(9),
                r.getString(10),
                r.getString(11),
                r.getString(12),
                r.getLong(13),
                r.getLong(14));
    }
}
