package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.StoreSettings;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The flags that choose a store, for every command that reads or writes one. */
final class StoreOptions {
    @Option(
            names = "--data-dir",
            defaultValue = "${env:RLHF4J_DATA_DIR:-data}",
            description = "default ${DEFAULT-VALUE}")
    Path dataDir;

    @Option(names = "--db-url", defaultValue = "${env:RLHF4J_DB_URL}")
    String dbUrl;

    @Option(names = "--db-user", defaultValue = "${env:RLHF4J_DB_USER}")
    String dbUser;

    @Option(names = "--db-password", defaultValue = "${env:RLHF4J_DB_PASSWORD}")
    String dbPassword;

    Store open() {
        return open(dataDir);
    }

    /** The store, with SQLite's file in {@code dir} rather than in {@code --data-dir}. */
    Store open(Path dir) {
        return new StoreSettings(dir, dbUrl, dbUser, dbPassword).open();
    }
}
