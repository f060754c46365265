package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.ClusterRepository;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.serving.ServingApp;
import io.rlhf4j.serving.config.ServeConfig;
import io.rlhf4j.serving.engine.EngineOptions;
import io.rlhf4j.serving.loop.LoopOptions;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Serve the active model version over an OpenAI-compatible HTTP API, logging every prompt.",
            "With --model, the checkpoint (or export directory) is exported if needed, registered as a new "
                    + "version and made active. With no model at all, the bundled demo model becomes version 1."
        })
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint or export directory to register and serve")
    Path model;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "YAML configuration (environment variables and " + "flags override it)")
    Path configFile;

    @Option(names = "--port", description = "HTTP port (default 8080; RLHF4J_PORT)")
    Integer port;

    @Option(names = "--host", description = "address to bind (default 127.0.0.1; RLHF4J_HOST)")
    String host;

    @Option(names = "--data-dir", description = "registry and SQLite store (default ./data; RLHF4J_DATA_DIR)")
    Path dataDir;

    @Option(names = "--db-url", description = "JDBC URL of a PostgreSQL store instead of SQLite (RLHF4J_DB_URL)")
    String dbUrl;

    @Option(names = "--engine", description = "onnxruntime-cpu (default) or onnxruntime-cuda (RLHF4J_ENGINE)")
    String engine;

    @Option(names = "--threads", description = "ONNX Runtime intra-op threads; 0 = all cores (RLHF4J_THREADS)")
    Integer threads;

    @Option(
            names = "--weights",
            paramLabel = "FORMAT",
            description = "policy variant to serve: fp32 (default), int8 or int4, exported with --quantize; a "
                    + "checkpoint given with --model is exported with it (RLHF4J_WEIGHTS)")
    String weights;

    @Option(names = "--max-batch", description = "sequences decoded together (default 32; RLHF4J_MAX_BATCH)")
    Integer maxBatch;

    @Option(names = "--queue", description = "requests waiting at most before 503 (default 256; RLHF4J_QUEUE)")
    Integer queue;

    @Option(
            names = "--train-every",
            paramLabel = "N",
            description = "start a training run after every N new rankings "
                    + "and demonstrations; 0 = only on POST /admin/training-runs (RLHF4J_TRAIN_EVERY)")
    Integer trainEvery;

    @Option(
            names = "--auto-promote",
            description = "promote a training run's candidate when it passes its gate " + "(RLHF4J_AUTO_PROMOTE)")
    Boolean autoPromote;

    @Option(
            names = "--model-store",
            paramLabel = "DIR|s3://BUCKET/PREFIX",
            description = "where every replica on one PostgreSQL finds the model versions: a directory mounted at "
                    + "the same path on each (NFS/EFS, a PVC), or an S3-compatible bucket (RLHF4J_S3_ENDPOINT for "
                    + "one that is not AWS; AWS_* credentials); default DATA_DIR/models (RLHF4J_MODEL_STORE)")
    String modelStore;

    @Option(names = "--no-training", description = "serve only: no background training runs")
    boolean noTraining;

    @Option(
            names = "--open",
            description = "open mode on purpose: no API key is asked for, even once keys exist (loopback "
                    + "only; a fresh store with no key ever created is open anyway; RLHF4J_OPEN)")
    boolean open;

    @Override
    public Integer call() throws Exception {
        ServingApp.Config c = ServeConfig.load(configFile, System.getenv(), System.getenv("RLHF4J_ADMIN_TOKEN"));
        EngineOptions e = new EngineOptions(
                engine != null ? engine : c.engine().kind(),
                threads != null ? threads : c.engine().threads(),
                c.engine().device(),
                weights != null
                        ? io.rlhf4j.core.checkpoint.WeightFormat.parse(weights)
                        : c.engine().weights(),
                c.engine().prefixCacheMb());
        String adminToken = c.adminToken();
        if (adminToken == null && io.rlhf4j.serving.api.ApiServer.isLoopback(host != null ? host : c.host())) {
            // A console on loopback should work out of the box: a fresh token, shown once, like Jupyter's.
            adminToken = io.rlhf4j.core.store.ApiKey.generate();
            System.err.println("admin token for this run (set RLHF4J_ADMIN_TOKEN to choose one): " + adminToken);
        }
        ServingApp.Config config = new ServingApp.Config(
                dataDir != null ? dataDir : c.dataDir(),
                dbUrl != null ? dbUrl : c.dbUrl(),
                c.dbUser(),
                c.dbPassword(),
                host != null ? host : c.host(),
                port != null ? port : c.port(),
                e,
                maxBatch != null ? maxBatch : c.maxRows(),
                queue != null ? queue : c.queueCapacity(),
                c.prefillChunk(),
                adminToken,
                noTraining
                        ? LoopOptions.disabled()
                        // The base model first: a loop with a launcher and no base model is refused.
                        : c.loop()
                                .withBaseModel(
                                        c.loop().baseModel() != null ? c.loop().baseModel() : DemoModel.locate())
                                .withLauncher(new SelfLauncher())
                                .withEveryJudgements(
                                        trainEvery != null
                                                ? trainEvery
                                                : c.loop().everyJudgements())
                                .withAutoPromote(
                                        autoPromote != null
                                                ? autoPromote
                                                : c.loop().autoPromote()),
                open || c.open(),
                c.limits(),
                modelStore != null ? c.cluster().withModelStore(modelStore) : c.cluster());
        try (ServingApp app = ServingApp.start(config)) {
            boolean hasActive =
                    app.store().versions().active(ModelVersion.POLICY).isPresent();
            Path source = model;
            if (source == null && !hasActive) {
                // Replicas starting together on an empty cluster: one registers the demo, the others follow it.
                String me = app.cluster().id();
                var cluster = app.store().cluster();
                if (cluster.tryLease(ClusterRepository.BOOTSTRAP_LEASE, me, System.currentTimeMillis(), 600_000)
                        && app.store().versions().active(ModelVersion.POLICY).isEmpty()) {
                    source = DemoModel.locate();
                    System.err.println("no model is active yet: registering the bundled demo model " + source);
                } else {
                    System.err.println("replica "
                            + cluster.leaseHolder(ClusterRepository.BOOTSTRAP_LEASE, System.currentTimeMillis())
                                    .orElse("(another)")
                            + " registers the first version; this one serves it once it is active");
                }
            }
            if (source != null) {
                ModelVersion v = app.registerAndActivate(exported(source, e.weights()));
                System.err.printf("version %s (%s) is active%n", v.version(), source);
                app.store()
                        .cluster()
                        .releaseLease(
                                ClusterRepository.BOOTSTRAP_LEASE, app.cluster().id());
            }
            String serving = app.router().serving(ModelVersion.POLICY);
            System.err.printf(
                    "rlhf4j serving version %s on http://%s:%d as replica %s (Ctrl-C to stop)%n",
                    serving == null ? "(none yet)" : serving,
                    config.host(),
                    app.port(),
                    app.cluster().id());
            System.err.printf(
                    "playground http://%s:%d/ · labeling /label.html · admin console /admin.html%s%n",
                    config.host(),
                    app.port(),
                    config.loop().enabled()
                            ? String.format(
                                    "; training runs %s",
                                    config.loop().everyJudgements() > 0
                                            ? "every " + config.loop().everyJudgements()
                                                    + " new judgements and on demand"
                                            : "on demand (POST /admin/training-runs)")
                            : "");
            CountDownLatch stop = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            // The JVM halts when its hooks return: wait for the close below (it stops a training child so
            // that its run resumes at the next start instead of running on unwatched).
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stop.countDown();
                try {
                    closed.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            }));
            try {
                stop.await();
                app.close();
            } finally {
                closed.countDown();
            }
        }
        return 0;
    }

    /** An export directory for {@code dir}: itself if it already is one, else a fresh parity-checked export. */
    static Path exported(Path dir) throws java.io.IOException {
        return exported(dir, io.rlhf4j.core.checkpoint.WeightFormat.FP32);
    }

    static Path exported(Path dir, io.rlhf4j.core.checkpoint.WeightFormat weights) throws java.io.IOException {
        return new Exporter(System.err).exportedForServing(dir, weights);
    }
}
