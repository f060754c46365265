package io.rlhf4j.core.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The two databases every repository test runs on: the embedded default (SQLite) and a real
 * PostgreSQL server (zonky's embedded binaries). One server serves every test class of the run, each
 * store gets a database of its own, so cases never see each other's rows.
 */
final class Databases implements BeforeAllCallback {

    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static volatile EmbeddedPostgres postgres;

    /** Stops the server when the whole run ends (JUnit closes the root store's resources then). */
    private record Server(EmbeddedPostgres pg) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() throws IOException {
            pg.close();
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getRoot()
                .getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(
                        Server.class,
                        k -> {
                            try {
                                postgres = EmbeddedPostgres.builder().start();
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                            return new Server(postgres);
                        },
                        Server.class);
    }

    /** The parameter source of every case: {@code @MethodSource("io.rlhf4j.core.store.Databases#kinds")}. */
    static Stream<String> kinds() {
        return Stream.of("sqlite", "postgresql");
    }

    /** A fresh, migrated store of that kind; SQLite's file goes under {@code tmp}. */
    static Store open(String kind, Path tmp) {
        int n = COUNTER.getAndIncrement();
        if (kind.equals("sqlite")) {
            return Store.openSqlite(tmp.resolve("db-" + n));
        }
        String db = "t" + n;
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return Store.open(postgres.getJdbcUrl("postgres", db), "postgres", "postgres");
    }

    /** A logged request with {@code completions} completions, each with the same three log-probs. */
    static PromptLog log(String id, String user, int completions) {
        List<PromptLog.Completion> cs = new ArrayList<>();
        for (int i = 0; i < completions; i++) {
            cs.add(new PromptLog.Completion(i, "answer " + i, 3, new float[] {-0.5f, -1.25f, -2f}, "stop"));
        }
        return new PromptLog(
                id, user, true, "api", "define: dog", "1", "{\"temperature\":0.7}", 1000L + id.hashCode() % 100, cs);
    }
}
