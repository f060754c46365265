package io.rlhf4j.core.store;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Which store to open: the SQLite file in a data directory, or PostgreSQL by URL. One place for what
 * the server, the command line and a training run's child process each need to find the same store.
 *
 * @param dataDir the data directory (SQLite's file lives here when {@code url} is null)
 * @param url a PostgreSQL JDBC URL, or null for SQLite
 */
public record StoreSettings(Path dataDir, String url, String user, String password) {

    public static final String ENV_URL = "RLHF4J_DB_URL";
    public static final String ENV_USER = "RLHF4J_DB_USER";
    public static final String ENV_PASSWORD = "RLHF4J_DB_PASSWORD";

    public static StoreSettings sqlite(Path dataDir) {
        return new StoreSettings(dataDir, null, null, null);
    }

    public Store open() {
        return url == null ? Store.openSqlite(dataDir) : Store.open(url, user, password);
    }

    /** The same store for a child process, which reads the {@code RLHF4J_DB_*} variables. */
    public Map<String, String> environment() {
        Map<String, String> env = new HashMap<>();
        if (url != null) {
            env.put(ENV_URL, url);
            if (user != null) {
                env.put(ENV_USER, user);
            }
            if (password != null) {
                env.put(ENV_PASSWORD, password);
            }
        }
        return Map.copyOf(env);
    }
}
