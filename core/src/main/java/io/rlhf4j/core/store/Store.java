package io.rlhf4j.core.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.flywaydb.core.Flyway;

/**
 * The data store over JDBC: SQLite by default (a file under the data directory), PostgreSQL by URL.
 * Opening it applies the versioned migrations in {@code db/migration}. It holds the connection pool
 * and hands out one repository per aggregate. Thread-safe: every repository call takes a pooled
 * connection (one for SQLite, whose writers serialise anyway) for one transaction.
 */
public final class Store implements AutoCloseable {

    private final HikariDataSource pool;
    private final boolean sqlite;
    private final PromptRepository prompts;
    private final VersionRepository versions;
    private final JudgementRepository judgements;
    private final ConsentRepository consent;
    private final RunRepository runs;
    private final KeyRepository keys;
    private final AuditRepository audit;
    private final ClusterRepository cluster;
    private final String url;
    private final String user;
    private final String password;

    private Store(HikariDataSource pool, boolean sqlite, String url, String user, String password) {
        this.pool = pool;
        this.sqlite = sqlite;
        this.url = url;
        this.user = user;
        this.password = password;
        Jdbc jdbc = new Jdbc(pool, sqlite);
        this.prompts = new PromptRepository(jdbc);
        this.versions = new VersionRepository(jdbc);
        this.judgements = new JudgementRepository(jdbc);
        this.consent = new ConsentRepository(jdbc);
        this.runs = new RunRepository(jdbc);
        this.keys = new KeyRepository(jdbc);
        this.audit = new AuditRepository(jdbc);
        this.cluster = new ClusterRepository(jdbc);
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
            throw new IllegalArgumentException(
                    "unsupported database URL " + url + " (supported: jdbc:sqlite:FILE, jdbc:postgresql://HOST/DB)");
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
            Flyway.configure()
                    .dataSource(pool)
                    .locations("classpath:db/migration")
                    .load()
                    .migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw new IllegalStateException("cannot migrate the store at " + url + ": " + e.getMessage(), e);
        }
        return new Store(pool, sqlite, url, user, password);
    }

    public boolean isSqlite() {
        return sqlite;
    }

    /** The prompt log: prompts, users and completions. */
    public PromptRepository prompts() {
        return prompts;
    }

    /** Model versions, the active ones and the activation history. */
    public VersionRepository versions() {
        return versions;
    }

    /** Demonstrations, rankings, labels, skips and the labeling queue. */
    public JudgementRepository judgements() {
        return judgements;
    }

    /** Users' consent to training, and deleting a user. */
    public ConsentRepository consent() {
        return consent;
    }

    /** The serving loop's training runs. */
    public RunRepository runs() {
        return runs;
    }

    /** API keys. */
    public KeyRepository keys() {
        return keys;
    }

    /** The audit log. */
    public AuditRepository audit() {
        return audit;
    }

    /** Replicas' heartbeats and cluster-wide leases. */
    public ClusterRepository cluster() {
        return cluster;
    }

    /**
     * A listener for activations made by any process on this store: notified on PostgreSQL, a plain
     * polling interval on SQLite. The caller closes it.
     */
    public ActivationEvents activationEvents() {
        return new ActivationEvents(sqlite ? null : url, user, password);
    }

    /**
     * The pool itself, for a library that keeps its own state in this store's tables (bucket4j's shared
     * rate limits in {@code rate_buckets}).
     */
    public javax.sql.DataSource dataSource() {
        return pool;
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
