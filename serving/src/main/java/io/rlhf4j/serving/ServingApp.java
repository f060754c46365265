package io.rlhf4j.serving;

import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.StoreSettings;
import io.rlhf4j.serving.api.ApiServer;
import io.rlhf4j.serving.cluster.ClusterMember;
import io.rlhf4j.serving.cluster.ClusterOptions;
import io.rlhf4j.serving.config.AdmissionLimits;
import io.rlhf4j.serving.engine.EngineOptions;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.loop.LoopOptions;
import io.rlhf4j.serving.loop.Supervision;
import io.rlhf4j.serving.loop.TrainingLoop;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.registry.Registry;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;

/**
 * The server's parts wired together: store, registry, prompt-log writer, model router and HTTP API.
 * On start it serves the version the store marks active, if any.
 */
public final class ServingApp implements AutoCloseable {

    /** Where and how to serve. {@code dbUrl} null means SQLite under the data directory. */
    public record Config(
            Path dataDir,
            String dbUrl,
            String dbUser,
            String dbPassword,
            String host,
            int port,
            EngineOptions engine,
            int maxRows,
            int queueCapacity,
            int prefillChunk,
            String adminToken,
            LoopOptions loop,
            boolean open,
            AdmissionLimits limits,
            ClusterOptions cluster) {
        public Config {
            java.util.Objects.requireNonNull(limits, "limits");
            java.util.Objects.requireNonNull(cluster, "cluster");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be in 0..65535, got " + port);
            }
            if (maxRows < 1 || queueCapacity < 1 || prefillChunk < 1) {
                throw new IllegalArgumentException("max batch, queue and prefill chunk must be at least 1");
            }
        }

        public static Config defaults(Path dataDir) {
            return new Config(
                    dataDir,
                    null,
                    null,
                    null,
                    "127.0.0.1",
                    8080,
                    EngineOptions.cpu(0),
                    32,
                    256,
                    Scheduler.Limits.DEFAULT_PREFILL_CHUNK,
                    null,
                    LoopOptions.disabled(),
                    false,
                    AdmissionLimits.defaults(),
                    ClusterOptions.single());
        }

        public Config withPort(int p) {
            return with(b -> b.port = p);
        }

        /** Prompt tokens one scheduler iteration prefills of a long prompt (see {@link Scheduler}). */
        public Config withPrefillChunk(int tokens) {
            return with(b -> b.prefillChunk = tokens);
        }

        public Config withAdminToken(String t) {
            return with(b -> b.adminToken = t);
        }

        public Config withLimits(int rows, int queue) {
            return with(b -> {
                b.maxRows = rows;
                b.queueCapacity = queue;
            });
        }

        public Config withLoop(LoopOptions l) {
            return with(b -> b.loop = l);
        }

        public Config withHost(String h) {
            return with(b -> b.host = h);
        }

        /** Open mode on purpose: no key is asked for, even once keys exist (loopback only). */
        public Config withOpen(boolean o) {
            return with(b -> b.open = o);
        }

        public Config withEngine(EngineOptions e) {
            return with(b -> b.engine = e);
        }

        public Config withAdmission(AdmissionLimits a) {
            return with(b -> b.limits = a);
        }

        /** The store shared with other replicas: PostgreSQL by URL. */
        public Config withDatabase(String url, String user, String password) {
            return with(b -> {
                b.dbUrl = url;
                b.dbUser = user;
                b.dbPassword = password;
            });
        }

        public Config withCluster(ClusterOptions o) {
            return with(b -> b.cluster = o);
        }

        /** This configuration with {@code change} applied to a mutable copy of it. */
        private Config with(java.util.function.Consumer<Copy> change) {
            Copy b = new Copy(this);
            change.accept(b);
            return new Config(
                    b.dataDir,
                    b.dbUrl,
                    b.dbUser,
                    b.dbPassword,
                    b.host,
                    b.port,
                    b.engine,
                    b.maxRows,
                    b.queueCapacity,
                    b.prefillChunk,
                    b.adminToken,
                    b.loop,
                    b.open,
                    b.limits,
                    b.cluster);
        }

        /** The fields of a {@link Config} being changed by one of its {@code with} methods. */
        private static final class Copy {
            Path dataDir;
            String dbUrl;
            String dbUser;
            String dbPassword;
            String host;
            int port;
            EngineOptions engine;
            int maxRows;
            int queueCapacity;
            int prefillChunk;
            String adminToken;
            LoopOptions loop;
            boolean open;
            AdmissionLimits limits;
            ClusterOptions cluster;

            Copy(Config c) {
                dataDir = c.dataDir;
                dbUrl = c.dbUrl;
                dbUser = c.dbUser;
                dbPassword = c.dbPassword;
                host = c.host;
                port = c.port;
                engine = c.engine;
                maxRows = c.maxRows;
                queueCapacity = c.queueCapacity;
                prefillChunk = c.prefillChunk;
                adminToken = c.adminToken;
                loop = c.loop;
                open = c.open;
                limits = c.limits;
                cluster = c.cluster;
            }
        }
    }

    private final Store store;
    private final Registry registry;
    private final LogWriter logs;
    private final ModelRouter router;
    private final ServingMetrics metrics;
    private final Vertx vertx;
    private final ApiServer api;
    private final TrainingLoop loop;
    private final ClusterMember member;
    private final int port;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private ServingApp(
            Store store,
            Registry registry,
            LogWriter logs,
            ModelRouter router,
            ServingMetrics metrics,
            Vertx vertx,
            ApiServer api,
            TrainingLoop loop,
            ClusterMember member,
            int port) {
        this.loop = loop;
        this.member = member;
        this.store = store;
        this.registry = registry;
        this.logs = logs;
        this.router = router;
        this.metrics = metrics;
        this.vertx = vertx;
        this.api = api;
        this.port = port;
    }

    public static ServingApp start(Config c) throws IOException {
        return start(c, Clock.systemUTC());
    }

    /**
     * As {@link #start(Config)}, with the clock the HTTP API runs by: labeling leases, rate limits and
     * the timestamps of what the API stores. Tests pass one they can move.
     */
    public static ServingApp start(Config c, Clock clock) throws IOException {
        StoreSettings settings = new StoreSettings(c.dataDir(), c.dbUrl(), c.dbUser(), c.dbPassword());
        Store store = settings.open();
        if (c.open() && !ApiServer.isLoopback(c.host())) {
            store.close();
            throw new IllegalStateException("open mode (--open) serves loopback only: bind 127.0.0.1, or serve with "
                    + "API keys (rlhf4j keys create)");
        }
        if (store.keys().countActive() == 0 && !ApiServer.isLoopback(c.host())) {
            store.close();
            throw new IllegalStateException("no API keys are configured, so the server would run in open mode, which "
                    + "serves loopback only: bind 127.0.0.1, or create a key first (rlhf4j keys create)");
        }
        // A model store names a cluster: replicas share it and the store, and one at a time runs training.
        boolean cluster = c.cluster().modelStore() != null;
        Registry registry = cluster
                ? Registry.shared(c.cluster().modelStore(), c.cluster().s3Endpoint(), store, c.dataDir())
                : new Registry(c.dataDir(), store);
        LogWriter logs = new LogWriter(store, c.limits().logQueue(), 256);
        ModelRouter router = new ModelRouter(
                store,
                registry,
                new Scheduler.Limits(c.maxRows(), c.queueCapacity(), c.limits().queueSharePerKey(), c.prefillChunk()),
                c.engine());
        ServingMetrics metrics = new ServingMetrics(router);
        ClusterMember member = new ClusterMember(store, router, c.cluster());
        // Training runs live in a shared directory when there is one, so that whichever replica holds
        // the training lease next finds their checkpoints; otherwise in this server's data directory.
        TrainingLoop loop = new TrainingLoop(
                c.loop(),
                store,
                registry,
                registry.sharedDirectory().orElse(c.dataDir()),
                settings.environment(),
                c.engine().weights(),
                cluster
                        ? Supervision.lease(
                                store.cluster(), member::id, c.cluster().deadAfter())
                        : null,
                cluster ? c.cluster().heartbeat() : TrainingLoop.SINGLE_SERVER_TICK,
                v -> {
                    try {
                        router.activate(v);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
        Vertx vertx = Vertx.vertx();
        ApiServer api = new ApiServer(
                vertx, router, registry, logs, metrics, c.adminToken(), loop, c.open(), c.limits(), clock, member);
        Runnable shutDown = () -> {
            member.close();
            api.close().toCompletionStage().toCompletableFuture().join();
            vertx.close();
            loop.close();
            router.close();
            logs.close();
            store.close();
        };
        int port;
        try {
            port = api.start(c.host(), c.port())
                    .toCompletionStage()
                    .toCompletableFuture()
                    .join();
        } catch (RuntimeException e) {
            shutDown.run();
            throw new IOException(
                    "cannot listen on " + c.host() + ":" + c.port() + ": "
                            + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()),
                    e);
        }
        try {
            member.start(port); // named by its port, known only now; serves the active versions
        } catch (IOException | RuntimeException e) {
            shutDown.run();
            throw e;
        }
        return new ServingApp(store, registry, logs, router, metrics, vertx, api, loop, member, port);
    }

    public int port() {
        return port;
    }

    public Store store() {
        return store;
    }

    public Registry registry() {
        return registry;
    }

    /** This server as a replica: its name, and the cluster's state. */
    public ClusterMember cluster() {
        return member;
    }

    public TrainingLoop loop() {
        return loop;
    }

    public ModelRouter router() {
        return router;
    }

    public ServingMetrics metrics() {
        return metrics;
    }

    /** Registers an export directory as a new version (policy or reward model) and makes it active. */
    public ModelVersion registerAndActivate(Path exportDir) throws IOException {
        String parent = store.versions().active(ModelVersion.POLICY).orElse(null);
        ModelVersion v = registry.register(exportDir, parent);
        router.activate(v);
        return v;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        api.close().toCompletionStage().toCompletableFuture().join();
        member.close();
        loop.close();
        router.close();
        logs.close();
        vertx.close().toCompletionStage().toCompletableFuture().join();
        store.close();
    }
}
