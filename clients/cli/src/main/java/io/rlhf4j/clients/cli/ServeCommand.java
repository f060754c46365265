package io.rlhf4j.clients.cli;

import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.serving.ServingApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the active model version over an OpenAI-compatible HTTP API, logging every prompt.",
                "With --model, the checkpoint (or export directory) is exported if needed, registered as a new "
                        + "version and made active. With no model at all, the bundled demo model becomes version 1."})
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint or export directory to register and serve")
    Path model;

    @Option(names = "--port", defaultValue = "${env:RLHF4J_PORT:-8080}", description = "HTTP port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--host", defaultValue = "${env:RLHF4J_HOST:-127.0.0.1}", description = "address to bind (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--data-dir", defaultValue = "${env:RLHF4J_DATA_DIR:-data}", description = "registry and SQLite store (default ${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--db-url", defaultValue = "${env:RLHF4J_DB_URL}", description = "JDBC URL of a PostgreSQL store instead of SQLite")
    String dbUrl;

    @Option(names = "--db-user", defaultValue = "${env:RLHF4J_DB_USER}")
    String dbUser;

    @Option(names = "--db-password", defaultValue = "${env:RLHF4J_DB_PASSWORD}")
    String dbPassword;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 = all cores")
    int threads;

    @Option(names = "--max-batch", defaultValue = "32", description = "sequences decoded together (default ${DEFAULT-VALUE})")
    int maxBatch;

    @Option(names = "--queue", defaultValue = "256", description = "requests waiting at most before 503 (default ${DEFAULT-VALUE})")
    int queue;

    @Override
    public Integer call() throws Exception {
        ServingApp.Config config = new ServingApp.Config(dataDir, dbUrl, dbUser, dbPassword, host, port, threads,
                maxBatch, queue, System.getenv("RLHF4J_ADMIN_TOKEN"));
        try (ServingApp app = ServingApp.start(config)) {
            boolean hasActive = app.store().active(ModelVersion.POLICY).isPresent();
            Path source = model;
            if (source == null && !hasActive) {
                source = DemoModel.locate();
                System.err.println("no model is active yet: registering the bundled demo model " + source);
            }
            if (source != null) {
                ModelVersion v = app.registerAndActivate(exported(source));
                System.err.printf("version %s (%s) is active%n", v.version(), source);
            }
            System.err.printf("rlhf4j serving version %s on http://%s:%d (Ctrl-C to stop)%n",
                    app.router().current().engine().version(), host, app.port());
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            stop.await();
        }
        return 0;
    }

    /** An export directory for {@code dir}: itself if it already is one, else a fresh parity-checked export. */
    private static Path exported(Path dir) throws Exception {
        if (Files.exists(dir.resolve("policy.onnx"))) {
            return dir;
        }
        ModelConfig.read(dir);
        Path tmp = Files.createTempDirectory("rlhf4j-export");
        Path out = tmp.resolve("export");
        new Exporter(System.err).export(Exporter.Options.defaults(dir, out));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                AtomicDirectory.deleteRecursively(tmp);
            } catch (java.io.IOException ignored) {
                // a temporary directory; the OS cleans up what is left
            }
        }));
        return out;
    }
}
