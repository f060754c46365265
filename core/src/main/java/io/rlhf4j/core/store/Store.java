package io.rlhf4j.core.store;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.flywaydb.core.Flyway;

/**
 * The data store over JDBC: SQLite by default (a file under the data directory), PostgreSQL by URL.
 * Opening it applies the versioned migrations in {@code db/migration}. Thread-safe: every call takes
 * a pooled connection (one for SQLite, whose writers serialise anyway).
 */
public final class Store implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HikariDataSource pool;
    private final boolean sqlite;

    private Store(HikariDataSource pool, boolean sqlite) {
        this.pool = pool;
        this.sqlite = sqlite;
    }

    /** The default embedded store: {@code <dataDir>/rlhf4j.db}. */
    public static Store openSqlite(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + dataDir, e);
        }
        return open("jdbc:sqlite:" + dataDir.resolve("rlhf4j.db").toAbsolutePath(), null, null);
    }

    /** Opens and migrates the store at a JDBC URL ({@code jdbc:sqlite:...} or {@code jdbc:postgresql:...}). */
    public static Store open(String url, String user, String password) {
        boolean sqlite = url.startsWith("jdbc:sqlite:");
        if (!sqlite && !url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("unsupported database URL " + url
                    + " (supported: jdbc:sqlite:FILE, jdbc:postgresql://HOST/DB)");
        }
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setPoolName("rlhf4j-store");
        if (sqlite) {
            // One connection: SQLite serialises writers; WAL lets readers proceed and keeps commits cheap.
            config.setMaximumPoolSize(1);
            config.setConnectionInitSql("PRAGMA foreign_keys = ON");
            config.addDataSourceProperty("journal_mode", "WAL");
            config.addDataSourceProperty("synchronous", "FULL");
            config.addDataSourceProperty("busy_timeout", "10000");
        } else {
            config.setMaximumPoolSize(8);
        }
        HikariDataSource pool = new HikariDataSource(config);
        try {
            Flyway.configure().dataSource(pool).locations("classpath:db/migration").load().migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw new IllegalStateException("cannot migrate the store at " + url + ": " + e.getMessage(), e);
        }
        return new Store(pool, sqlite);
    }

    public boolean isSqlite() {
        return sqlite;
    }

    // ---------------------------------------------------------------- prompt log

    /** Writes a batch of request logs in one transaction (group commit). */
    public void log(List<PromptLog> logs) {
        if (logs.isEmpty()) {
            return;
        }
        inTransaction(c -> {
            try (PreparedStatement user = c.prepareStatement(sqlite
                            ? "INSERT OR IGNORE INTO users (id, consent_to_training, created_at) VALUES (?, ?, ?)"
                            : "INSERT INTO users (id, consent_to_training, created_at) VALUES (?, ?, ?) "
                                    + "ON CONFLICT (id) DO NOTHING");
                    PreparedStatement prompt = c.prepareStatement("INSERT INTO prompts (id, user_id, "
                            + "consent_to_training, source, text, model_version, params, created_at, request_consent) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
                    PreparedStatement completion = c.prepareStatement("INSERT INTO completions (id, prompt_id, idx, "
                            + "model_version, text, tokens, logprobs, finish_reason, created_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (PromptLog p : logs) {
                    // A user's standing consent starts as given; only an opt-out (setConsent) changes it.
                    user.setString(1, p.userId());
                    user.setBoolean(2, true);
                    user.setLong(3, p.createdAt());
                    user.addBatch();
                    prompt.setString(1, p.id());
                    prompt.setString(2, p.userId());
                    prompt.setBoolean(3, p.consent());
                    prompt.setString(4, p.source());
                    prompt.setString(5, text(p.text()));
                    prompt.setString(6, p.modelVersion());
                    prompt.setString(7, p.paramsJson());
                    prompt.setLong(8, p.createdAt());
                    prompt.setBoolean(9, p.consent());
                    prompt.addBatch();
                    for (PromptLog.Completion k : p.completions()) {
                        completion.setString(1, p.id() + "-" + k.index());
                        completion.setString(2, p.id());
                        completion.setInt(3, k.index());
                        completion.setString(4, p.modelVersion());
                        completion.setString(5, text(k.text()));
                        completion.setInt(6, k.tokens());
                        completion.setString(7, k.logprobs() == null ? null : JSON.writeValueAsString(k.logprobs()));
                        completion.setString(8, k.finishReason());
                        completion.setLong(9, p.createdAt());
                        completion.addBatch();
                    }
                }
                user.executeBatch();
                prompt.executeBatch();
                completion.executeBatch();
                // A user who opted out stays out, whatever a single request says.
                try (PreparedStatement optedOut = c.prepareStatement("UPDATE prompts SET consent_to_training = ? "
                        + "WHERE id = ? AND EXISTS (SELECT 1 FROM users u WHERE u.id = ? AND u.consent_to_training = ?)")) {
                    for (PromptLog p : logs) {
                        optedOut.setBoolean(1, false);
                        optedOut.setString(2, p.id());
                        optedOut.setString(3, p.userId());
                        optedOut.setBoolean(4, false);
                        optedOut.addBatch();
                    }
                    optedOut.executeBatch();
                }
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            return null;
        });
    }

    /** Prompts, newest first. */
    public List<PromptLog> prompts(int limit) {
        return inTransaction(c -> {
            List<PromptLog> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT id, user_id, consent_to_training, source, text, "
                    + "model_version, params, created_at FROM prompts ORDER BY created_at DESC, id LIMIT ?")) {
                s.setInt(1, limit);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        out.add(new PromptLog(r.getString(1), r.getString(2), r.getBoolean(3), r.getString(4),
                                r.getString(5), r.getString(6), r.getString(7), r.getLong(8),
                                completions(c, r.getString(1))));
                    }
                }
            }
            return out;
        });
    }

    private static List<PromptLog.Completion> completions(Connection c, String promptId) throws SQLException {
        List<PromptLog.Completion> out = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT idx, text, tokens, logprobs, finish_reason "
                + "FROM completions WHERE prompt_id = ? ORDER BY idx")) {
            s.setString(1, promptId);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    String lp = r.getString(4);
                    float[] logprobs;
                    try {
                        logprobs = lp == null ? null : JSON.readValue(lp, float[].class);
                    } catch (IOException e) {
                        throw new SQLException("completion " + promptId + "/" + r.getInt(1) + ": bad logprobs JSON", e);
                    }
                    out.add(new PromptLog.Completion(r.getInt(1), r.getString(2), r.getInt(3), logprobs,
                            r.getString(5)));
                }
            }
        }
        return out;
    }

    public long countPrompts() {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM prompts");
                    ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        });
    }

    // ---------------------------------------------------------------- model versions

    public void registerVersion(ModelVersion v) {
        inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO model_versions (version, kind, parent, path, "
                    + "manifest, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, v.version());
                s.setString(2, v.kind());
                s.setString(3, v.parent());
                s.setString(4, v.path());
                s.setString(5, v.manifestJson());
                s.setString(6, v.state());
                s.setLong(7, v.createdAt());
                s.executeUpdate();
            }
            return null;
        });
    }

    public List<ModelVersion> versions() {
        return inTransaction(c -> {
            List<ModelVersion> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT version, kind, parent, path, manifest, state, "
                    + "created_at FROM model_versions ORDER BY created_at, version");
                    ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(new ModelVersion(r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                            r.getString(5), r.getString(6), r.getLong(7)));
                }
            }
            return out;
        });
    }

    public Optional<ModelVersion> version(String version) {
        return versions().stream().filter(v -> v.version().equals(version)).findFirst();
    }

    /** Makes {@code version} the active one of its kind and appends it to the activation history. */
    public void activate(String kind, String version, long at) {
        inTransaction(c -> {
            try (PreparedStatement d = c.prepareStatement("DELETE FROM active_models WHERE kind = ?");
                    PreparedStatement s = c.prepareStatement(
                            "INSERT INTO active_models (kind, version, activated_at) VALUES (?, ?, ?)");
                    PreparedStatement h = c.prepareStatement("INSERT INTO activations (seq, kind, version, "
                            + "activated_at, forced) SELECT COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM activations "
                            + "WHERE kind = ?")) {
                d.setString(1, kind);
                d.executeUpdate();
                s.setString(1, kind);
                s.setString(2, version);
                s.setLong(3, at);
                s.executeUpdate();
                h.setString(1, kind);
                h.setString(2, version);
                h.setLong(3, at);
                h.setBoolean(4, false);
                h.setString(5, kind);
                h.executeUpdate();
            }
            return null;
        });
    }

    /** Versions of {@code kind} in the order they were activated, oldest first (repeats included). */
    public List<String> activationHistory(String kind) {
        return inTransaction(c -> {
            List<String> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT version FROM activations WHERE kind = ? ORDER BY seq")) {
                s.setString(1, kind);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        out.add(r.getString(1));
                    }
                }
            }
            return out;
        });
    }

    /** Marks a version unregistered; the active version cannot be. */
    public void unregister(String version) {
        inTransaction(c -> {
            try (PreparedStatement a = c.prepareStatement("SELECT COUNT(*) FROM active_models WHERE version = ?");
                    PreparedStatement u = c.prepareStatement(
                            "UPDATE model_versions SET state = ? WHERE version = ?")) {
                a.setString(1, version);
                try (ResultSet r = a.executeQuery()) {
                    r.next();
                    if (r.getLong(1) > 0) {
                        throw new IllegalStateException("version " + version + " is active; promote another first");
                    }
                }
                u.setString(1, ModelVersion.UNREGISTERED);
                u.setString(2, version);
                if (u.executeUpdate() == 0) {
                    throw new IllegalArgumentException("no version " + version);
                }
            }
            return null;
        });
    }

    public Optional<String> active(String kind) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT version FROM active_models WHERE kind = ?")) {
                s.setString(1, kind);
                try (ResultSet r = s.executeQuery()) {
                    return r.next() ? Optional.of(r.getString(1)) : Optional.<String>empty();
                }
            }
        });
    }

    // ---------------------------------------------------------------- judgements

    public void addDemonstration(Judgement.Demonstration d) {
        inTransaction(c -> {
            requirePrompt(c, d.promptId());
            try (PreparedStatement s = c.prepareStatement("INSERT INTO demonstrations (id, prompt_id, labeler_id, "
                    + "text, source, created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                s.setString(1, d.id());
                s.setString(2, d.promptId());
                s.setString(3, d.labelerId());
                s.setString(4, d.text());
                s.setString(5, d.source());
                s.setLong(6, d.createdAt());
                s.executeUpdate();
            }
            return null;
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
                throw new IllegalArgumentException("a label names completion " + l.completion()
                        + ", which the ranking does not order");
            }
        }
        inTransaction(c -> {
            requirePrompt(c, r.promptId());
            try (PreparedStatement k = c.prepareStatement("SELECT COUNT(*) FROM completions WHERE id = ?");
                    PreparedStatement s = c.prepareStatement("INSERT INTO rankings (id, prompt_id, labeler_id, "
                            + "source, created_at) VALUES (?, ?, ?, ?, ?)");
                    PreparedStatement e = c.prepareStatement(
                            "INSERT INTO ranking_entries (ranking_id, completion_id, rank) VALUES (?, ?, ?)")) {
                for (int idx : r.completions()) {
                    k.setString(1, r.promptId() + "-" + idx);
                    try (ResultSet rs = k.executeQuery()) {
                        rs.next();
                        if (rs.getLong(1) == 0) {
                            throw new IllegalArgumentException("prompt " + r.promptId() + " has no completion "
                                    + idx + "; a ranking can only order completions that were served");
                        }
                    }
                }
                s.setString(1, r.id());
                s.setString(2, r.promptId());
                s.setString(3, r.labelerId());
                s.setString(4, r.source());
                s.setLong(5, r.createdAt());
                s.executeUpdate();
                for (int i = 0; i < r.ranks().length; i++) {
                    e.setString(1, r.id());
                    e.setString(2, r.promptId() + "-" + r.completions().get(i));
                    e.setInt(3, r.ranks()[i]);
                    e.addBatch();
                }
                e.executeBatch();
            }
            try (PreparedStatement l = c.prepareStatement(
                    "INSERT INTO ranking_labels (ranking_id, completion_id, score, flags) VALUES (?, ?, ?, ?)")) {
                for (Judgement.Label label : labels) {
                    l.setString(1, r.id());
                    l.setString(2, r.promptId() + "-" + label.completion());
                    l.setObject(3, label.score());
                    l.setString(4, JSON.writeValueAsString(label.flags()));
                    l.addBatch();
                }
                l.executeBatch();
            } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
                throw new IllegalStateException(x);
            }
            return null;
        });
    }

    /** The labels stored with a ranking, by completion index. */
    public List<Judgement.Label> labels(String rankingId) {
        return inTransaction(c -> {
            List<Judgement.Label> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT c.idx, l.score, l.flags FROM ranking_labels l "
                    + "JOIN completions c ON c.id = l.completion_id WHERE l.ranking_id = ? ORDER BY c.idx")) {
                s.setString(1, rankingId);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        int index = r.getInt(1);
                        int score = r.getInt(2);
                        out.add(new Judgement.Label(index, r.wasNull() ? null : score,
                                List.of(JSON.readValue(r.getString(3), String[].class))));
                    }
                }
            } catch (IOException e) {
                throw new SQLException("ranking " + rankingId + ": bad flags JSON", e);
            }
            return out;
        });
    }

    /** Records that a labeler skipped a prompt (again is a no-op). */
    public void addSkip(String promptId, String labelerId, String reason, long at) {
        inTransaction(c -> {
            requirePrompt(c, promptId);
            try (PreparedStatement s = c.prepareStatement(sqlite
                    ? "INSERT OR IGNORE INTO labeling_skips (prompt_id, labeler_id, reason, created_at) VALUES (?, ?, ?, ?)"
                    : "INSERT INTO labeling_skips (prompt_id, labeler_id, reason, created_at) VALUES (?, ?, ?, ?) "
                            + "ON CONFLICT (prompt_id, labeler_id) DO NOTHING")) {
                s.setString(1, promptId);
                s.setString(2, labelerId);
                s.setString(3, reason);
                s.setLong(4, at);
                s.executeUpdate();
            }
            return null;
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
        return inTransaction(c -> {
            List<PromptLog> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT p.id, p.user_id, p.consent_to_training, p.source, "
                    + "p.text, p.model_version, p.params, p.created_at FROM prompts p WHERE p.consent_to_training "
                    + "AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.prompt_id = p.id) "
                    + "AND NOT EXISTS (SELECT 1 FROM demonstrations d WHERE d.prompt_id = p.id) "
                    + "AND NOT EXISTS (SELECT 1 FROM labeling_skips k WHERE k.prompt_id = p.id AND k.labeler_id = ?) "
                    + "ORDER BY p.created_at, p.id LIMIT ? OFFSET ?")) {
                s.setString(1, labelerId);
                s.setInt(2, limit);
                s.setInt(3, offset);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        out.add(new PromptLog(r.getString(1), r.getString(2), r.getBoolean(3), r.getString(4),
                                r.getString(5), r.getString(6), r.getString(7), r.getLong(8), List.of()));
                    }
                }
            }
            return out;
        });
    }

    /** One prompt with its completions. */
    public Optional<PromptLog> prompt(String id) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT id, user_id, consent_to_training, source, text, "
                    + "model_version, params, created_at FROM prompts WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        return Optional.empty();
                    }
                    return Optional.of(new PromptLog(r.getString(1), r.getString(2), r.getBoolean(3), r.getString(4),
                            r.getString(5), r.getString(6), r.getString(7), r.getLong(8), completions(c, id)));
                }
            }
        });
    }

    /**
     * Appends completions to a logged prompt (the labeling queue samples fresh ones); their indexes
     * continue after the prompt's existing ones. Returns the stored completions with their indexes.
     */
    public List<PromptLog.Completion> addCompletions(String promptId, String modelVersion,
            List<PromptLog.Completion> fresh, long at) {
        return inTransaction(c -> {
            requirePrompt(c, promptId);
            int next;
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT COALESCE(MAX(idx) + 1, 0) FROM completions WHERE prompt_id = ?")) {
                s.setString(1, promptId);
                try (ResultSet r = s.executeQuery()) {
                    r.next();
                    next = r.getInt(1);
                }
            }
            List<PromptLog.Completion> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("INSERT INTO completions (id, prompt_id, idx, "
                    + "model_version, text, tokens, logprobs, finish_reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (PromptLog.Completion k : fresh) {
                    int idx = next++;
                    s.setString(1, promptId + "-" + idx);
                    s.setString(2, promptId);
                    s.setInt(3, idx);
                    s.setString(4, modelVersion);
                    s.setString(5, text(k.text()));
                    s.setInt(6, k.tokens());
                    s.setString(7, null);
                    s.setString(8, k.finishReason());
                    s.setLong(9, at);
                    s.addBatch();
                    out.add(new PromptLog.Completion(idx, k.text(), k.tokens(), null, k.finishReason()));
                }
                s.executeBatch();
            }
            return out;
        });
    }

    // ---------------------------------------------------------------- consent and deletion

    /** A user's standing consent; users never seen consent by default. */
    public boolean consent(String userId) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT consent_to_training FROM users WHERE id = ?")) {
                s.setString(1, userId);
                try (ResultSet r = s.executeQuery()) {
                    return !r.next() || r.getBoolean(1);
                }
            }
        });
    }

    /**
     * Sets a user's consent to training. It applies to the prompts already stored as well, so an
     * opt-out keeps their past prompts out of every later snapshot. Returns how many prompts changed.
     */
    public int setConsent(String userId, boolean consent, long at) {
        return inTransaction(c -> {
            try (PreparedStatement u = c.prepareStatement("INSERT INTO users (id, consent_to_training, created_at) "
                    + "VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET consent_to_training = excluded.consent_to_training")) {
                u.setString(1, userId);
                u.setBoolean(2, consent);
                u.setLong(3, at);
                u.executeUpdate();
            }
            // Opting back in restores only what the requests themselves allowed.
            try (PreparedStatement p = c.prepareStatement(consent
                    ? "UPDATE prompts SET consent_to_training = ? WHERE user_id = ? AND consent_to_training <> ? "
                            + "AND request_consent = ?"
                    : "UPDATE prompts SET consent_to_training = ? WHERE user_id = ? AND consent_to_training <> ?")) {
                p.setBoolean(1, consent);
                p.setString(2, userId);
                p.setBoolean(3, consent);
                if (consent) {
                    p.setBoolean(4, true);
                }
                return p.executeUpdate();
            }
        });
    }

    /** What deleting a user removed. */
    public record Deletion(String userId, int prompts, int completions, int rankings, int demonstrations) {
    }

    /** Deletes everything a user sent and every judgement of it, in one transaction. */
    public Deletion deleteUser(String userId) {
        return inTransaction(c -> {
            String mine = "SELECT id FROM prompts WHERE user_id = ?";
            String myRankings = "SELECT id FROM rankings WHERE prompt_id IN (" + mine + ")";
            update(c, "DELETE FROM ranking_labels WHERE ranking_id IN (" + myRankings + ")", userId);
            update(c, "DELETE FROM ranking_entries WHERE ranking_id IN (" + myRankings + ")", userId);
            int rankings = update(c, "DELETE FROM rankings WHERE prompt_id IN (" + mine + ")", userId);
            int demos = update(c, "DELETE FROM demonstrations WHERE prompt_id IN (" + mine + ")", userId);
            update(c, "DELETE FROM labeling_skips WHERE prompt_id IN (" + mine + ")", userId);
            int completions = update(c, "DELETE FROM completions WHERE prompt_id IN (" + mine + ")", userId);
            int prompts = update(c, "DELETE FROM prompts WHERE user_id = ?", userId);
            update(c, "DELETE FROM users WHERE id = ?", userId);
            return new Deletion(userId, prompts, completions, rankings, demos);
        });
    }

    private static int update(Connection c, String sql, String arg) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            s.setString(1, arg);
            return s.executeUpdate();
        }
    }

    /** Appends to the audit log: admin actions that bypass a safeguard or destroy data. */
    public void audit(String action, String detail, long at) {
        inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO audit_log (id, at, action, detail) VALUES (?, ?, ?, ?)")) {
                s.setString(1, java.util.UUID.randomUUID().toString());
                s.setLong(2, at);
                s.setString(3, action);
                s.setString(4, detail);
                s.executeUpdate();
            }
            return null;
        });
    }

    /** The audit log, oldest first, as {@code at action detail} lines. */
    public List<String> auditLog() {
        return inTransaction(c -> {
            List<String> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT at, action, detail FROM audit_log ORDER BY at, id");
                    ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(r.getLong(1) + " " + r.getString(2) + " " + r.getString(3));
                }
            }
            return out;
        });
    }

    // ---------------------------------------------------------------- training runs

    public void saveRun(TrainingRun t) {
        inTransaction(c -> {
            try (PreparedStatement u = c.prepareStatement("UPDATE training_runs SET state = ?, stage = ?, progress = ?, "
                    + "snapshot = ?, candidate = ?, gate = ?, promoted = ?, error = ?, updated_at = ? WHERE id = ?")) {
                u.setString(1, t.state());
                u.setString(2, t.stage());
                u.setDouble(3, t.progress());
                u.setString(4, t.snapshot());
                u.setString(5, t.candidate());
                u.setString(6, t.gateJson());
                u.setBoolean(7, t.promoted());
                u.setString(8, t.error());
                u.setLong(9, t.updatedAt());
                u.setString(10, t.id());
                if (u.executeUpdate() == 1) {
                    return null;
                }
            }
            try (PreparedStatement s = c.prepareStatement("INSERT INTO training_runs (id, state, trigger_kind, stage, "
                    + "progress, snapshot, candidate, gate, promoted, error, dir, config, created_at, updated_at) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, t.id());
                s.setString(2, t.state());
                s.setString(3, t.trigger());
                s.setString(4, t.stage());
                s.setDouble(5, t.progress());
                s.setString(6, t.snapshot());
                s.setString(7, t.candidate());
                s.setString(8, t.gateJson());
                s.setBoolean(9, t.promoted());
                s.setString(10, t.error());
                s.setString(11, t.dir());
                s.setString(12, t.configJson());
                s.setLong(13, t.createdAt());
                s.setLong(14, t.updatedAt());
                s.executeUpdate();
            }
            return null;
        });
    }

    private static final String RUN_COLUMNS = "SELECT id, state, trigger_kind, stage, progress, snapshot, candidate, "
            + "gate, promoted, error, dir, config, created_at, updated_at FROM training_runs ";

    /** Training runs, newest first. */
    public List<TrainingRun> runs() {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement(RUN_COLUMNS + "ORDER BY created_at DESC, id DESC")) {
                return trainingRuns(s);
            }
        });
    }

    /** One run: the loop reads it every second while a run trains, so by key, not by listing all. */
    public Optional<TrainingRun> run(String id) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement(RUN_COLUMNS + "WHERE id = ?")) {
                s.setString(1, id);
                return trainingRuns(s).stream().findFirst();
            }
        });
    }

    private static List<TrainingRun> trainingRuns(PreparedStatement s) throws SQLException {
        List<TrainingRun> out = new ArrayList<>();
        try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
                out.add(new TrainingRun(r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                        r.getDouble(5), r.getString(6), r.getString(7), r.getString(8), r.getBoolean(9),
                        r.getString(10), r.getString(11), r.getString(12), r.getLong(13), r.getLong(14)));
            }
        }
        return out;
    }

    /** How many rankings and demonstrations exist: what the loop's schedule counts. */
    public long countJudgements() {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT (SELECT COUNT(*) FROM rankings) + (SELECT COUNT(*) FROM demonstrations)");
                    ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        });
    }

    public List<Judgement.Demonstration> demonstrations() {
        return inTransaction(c -> {
            List<Judgement.Demonstration> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT id, prompt_id, labeler_id, text, source, created_at "
                    + "FROM demonstrations ORDER BY created_at, id");
                    ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(new Judgement.Demonstration(r.getString(1), r.getString(2), r.getString(3),
                            r.getString(4), r.getString(5), r.getLong(6)));
                }
            }
            return out;
        });
    }

    public List<Judgement.Ranking> rankings() {
        return inTransaction(c -> {
            List<Judgement.Ranking> out = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT id, prompt_id, labeler_id, source, created_at "
                    + "FROM rankings ORDER BY created_at, id");
                    PreparedStatement e = c.prepareStatement("SELECT c.idx, e.rank FROM ranking_entries e "
                            + "JOIN completions c ON c.id = e.completion_id WHERE e.ranking_id = ? ORDER BY c.idx");
                    ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    List<Integer> idx = new ArrayList<>();
                    List<Integer> ranks = new ArrayList<>();
                    e.setString(1, r.getString(1));
                    try (ResultSet er = e.executeQuery()) {
                        while (er.next()) {
                            idx.add(er.getInt(1));
                            ranks.add(er.getInt(2));
                        }
                    }
                    out.add(new Judgement.Ranking(r.getString(1), r.getString(2), r.getString(3), idx,
                            ranks.stream().mapToInt(Integer::intValue).toArray(), r.getString(4), r.getLong(5)));
                }
            }
            return out;
        });
    }

    private static void requirePrompt(Connection c, String promptId) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM prompts WHERE id = ?")) {
            s.setString(1, promptId);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                if (r.getLong(1) == 0) {
                    throw new IllegalArgumentException("no prompt " + promptId + " was ever served or imported");
                }
            }
        }
    }

    // ---------------------------------------------------------------- API keys

    public void createKey(ApiKey k) {
        inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO api_keys (key_hash, prefix, user_id, role, "
                    + "may_set_user, requests_per_minute, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)")) {
                s.setString(1, k.hash());
                s.setString(2, k.prefix());
                s.setString(3, k.userId());
                s.setString(4, k.role());
                s.setBoolean(5, k.maySetUser());
                s.setInt(6, k.requestsPerMinute());
                s.setLong(7, k.createdAt());
                s.executeUpdate();
            }
            return null;
        });
    }

    public Optional<ApiKey> findKey(String hash) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT key_hash, prefix, user_id, role, may_set_user, "
                    + "requests_per_minute, created_at, revoked_at FROM api_keys WHERE key_hash = ?")) {
                s.setString(1, hash);
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        return Optional.<ApiKey>empty();
                    }
                    long revokedAt = r.getLong(8);
                    Long revoked = r.wasNull() ? null : revokedAt;
                    return Optional.of(new ApiKey(r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                            r.getBoolean(5), r.getInt(6), r.getLong(7), revoked));
                }
            }
        });
    }

    /** Keys not revoked: zero means the server runs in open mode. */
    public long countActiveKeys() {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL");
                    ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        });
    }

    /** Revokes the keys that start with {@code prefix}; returns how many. */
    public int revokeKeys(String prefix, long at) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL")) {
                s.setLong(1, at);
                s.setString(2, prefix);
                return s.executeUpdate();
            }
        });
    }

    // ---------------------------------------------------------------- plumbing

    /** PostgreSQL's text cannot hold NUL (byte-level tokenizers can produce it): store U+FFFD instead. */
    private static String text(String s) {
        return s == null || s.indexOf('\u0000') < 0 ? s : s.replace('\u0000', '\uFFFD');
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private <T> T inTransaction(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new StoreException(e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }

    /** A database failure, with the driver's message. */
    public static final class StoreException extends RuntimeException {
        StoreException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
