package io.rlhf4j.serving.loop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.core.loop.PipelineRequest;
import io.rlhf4j.core.loop.PipelineStages;
import io.rlhf4j.core.loop.SnapshotIndex;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.TrainingRun;
import io.rlhf4j.serving.registry.Registry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving side of "steps 2 and 3 can be iterated continuously": starts a training run on demand or
 * every N new judgements, runs the pipeline (snapshot, SFT, RM, PPO-ptx, evaluation against the active
 * version, export) in a child process, registers its candidate and promotes it when the gate passes
 * and auto-promotion is on.
 *
 * <p>Why a child process: serving must not load the training engine (DJL's PyTorch), the training
 * threads are bounded and run at lower priority ({@code nice}) so they never starve the scheduler,
 * and a crash of either side leaves the other whole. The run's row in the store is its durable state:
 * at start-up a run left running by a crash is resumed (every stage resumes from its checkpoints) or,
 * past {@link LoopOptions#maxAttempts}, marked failed. A candidate is registered only from a finished
 * export directory, atomically, so nothing is ever half-registered.
 */
public final class TrainingLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How often a single server's loop looks at the judgement count. */
    public static final java.time.Duration SINGLE_SERVER_TICK = java.time.Duration.ofSeconds(5);

    private final WeightFormat weights;
    private final LoopOptions options;
    private final Store store;
    private final Registry registry;
    private final Path runsDir;
    private final Path dataDir;
    private final Consumer<ModelVersion> promote;
    private final Map<String, String> storeEnv;
    private final ScheduledExecutorService timer;
    /** Follows the running child, so that the timer keeps renewing the supervision meanwhile. */
    private final java.util.concurrent.ExecutorService watcher;

    private volatile Process child;
    private volatile String running;
    private volatile boolean closing;
    private volatile long judgementsAtLastRun;
    /** The right to run training at all; null when the loop is disabled. */
    private final Supervision supervision;
    /** Whether this server holds it now: runs start, resume and are followed only while it does. */
    private volatile boolean supervising;

    /**
     * @param dataDir where runs and snapshots go: the shared model store on a cluster, so that the
     *     next supervisor finds a run's checkpoints
     * @param storeEnv the store's {@code RLHF4J_DB_*} settings for the child (empty for SQLite in the data dir)
     * @param weights the policy variant this server serves: each candidate's export carries it
     * @param supervision a cluster's lease ({@link Supervision#lease}), or null for a lock on the runs directory
     * @param tick how often supervision is renewed and the judgement count looked at
     * @param promote makes a registered version active (the same path as an admin's promotion)
     */
    public TrainingLoop(
            LoopOptions options,
            Store store,
            Registry registry,
            Path dataDir,
            Map<String, String> storeEnv,
            WeightFormat weights,
            Supervision supervision,
            java.time.Duration tick,
            Consumer<ModelVersion> promote) {
        this.weights = weights;
        this.options = options;
        this.storeEnv = Map.copyOf(storeEnv);
        this.store = store;
        this.registry = registry;
        this.dataDir = dataDir;
        this.runsDir = dataDir.resolve("runs");
        this.promote = promote;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "rlhf4j-training-loop");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            return t;
        });
        this.watcher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "rlhf4j-training-watch");
            t.setDaemon(true);
            return t;
        });
        this.judgementsAtLastRun = store.judgements().count();
        this.supervision =
                !options.enabled() ? null : supervision != null ? supervision : Supervision.fileLock(runsDir);
        if (this.supervision != null) {
            try {
                tick();
            } catch (RuntimeException e) {
                close(); // the lock and the timer are not left behind
                throw e;
            }
            timer.scheduleWithFixedDelay(this::onTick, tick.toMillis(), tick.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Renews supervision; on taking it (at start, or from a replica that stopped renewing) resumes the
     * runs left unfinished, on losing it stops the child, which the next supervisor resumes.
     */
    private synchronized void tick() {
        boolean held;
        try {
            held = supervision.held();
        } catch (RuntimeException e) {
            // Unrenewed, the lease passes to another replica once it expires: this one's child stops
            // now, before that, so two processes never write one run.
            LOG.warn("cannot renew the supervision of training runs: {}", e.getMessage());
            held = false;
        }
        if (held && !supervising) {
            supervising = true;
            try {
                judgementsAtLastRun = store.judgements().count(); // those before now were another's to count
                recover();
            } catch (RuntimeException e) {
                handOver(); // taken again, and the runs recovered, at the next tick
                throw e;
            }
        } else if (!held && supervising) {
            handOver();
        }
        if (supervising
                && options.everyJudgements() > 0
                && running == null
                && store.judgements().count() - judgementsAtLastRun >= options.everyJudgements()) {
            try {
                start("schedule", null);
            } catch (IOException | RuntimeException e) {
                LOG.warn("scheduled training run did not start: {}", e.getMessage());
            }
        }
    }

    /** Gives up supervision here: the child stops first, before anything that needs the store. */
    private void handOver() {
        supervising = false;
        Process p = child;
        if (p != null) {
            ChildProcess.stop(p.toHandle());
        }
        LOG.warn(
                "this server no longer supervises training runs{}",
                p == null ? "" : "; its run stopped, to resume " + "under the next supervisor");
    }

    private void onTick() {
        try {
            tick();
        } catch (RuntimeException e) {
            // The store may come back; until it does, nothing new starts here.
            LOG.warn("training loop: {}", e.getMessage());
        }
    }

    /** Starts a run now; refused while one runs or when this server has no pipeline configured. */
    public synchronized TrainingRun start(String trigger, ObjectNode config) throws IOException {
        if (!options.enabled()) {
            throw new IllegalStateException("training is not enabled on this server (rlhf4j serve runs the loop; "
                    + "an embedded server needs LoopOptions with a pipeline launcher)");
        }
        if (running != null) {
            throw new IllegalStateException("training run " + running + " is still running");
        }
        if (!supervising) {
            throw new IllegalStateException(supervision.holder() + " supervises its training runs: start one there");
        }
        long now = System.currentTimeMillis();
        // A fresh id and a directory that did not exist: a run never resumes another run's checkpoints.
        Files.createDirectories(runsDir);
        int n = store.runs().all().size() + 1;
        while (store.runs().find("run-" + n).isPresent() || Files.exists(runsDir.resolve("run-" + n))) {
            n++;
        }
        String id = "run-" + n;
        Path dir = Files.createDirectory(runsDir.resolve(id));
        String configJson = JSON.writeValueAsString(config == null ? JSON.createObjectNode() : config);
        TrainingRun run = TrainingRun.queued(id, trigger, dir.toString(), configJson, now);
        store.runs().save(run);
        judgementsAtLastRun = store.judgements().count();
        launch(run, 1);
        return store.runs().find(id).orElse(run);
    }

    /** Resumes runs a crash left unfinished, or fails those that already had their attempts. */
    private void recover() {
        for (TrainingRun r : store.runs().all()) {
            if (r.finished()) {
                continue;
            }
            // A child a killed server left still writes this run, whatever becomes of it now.
            ChildProcess.alive(Path.of(r.dir())).ifPresent(ChildProcess::stop);
            if (r.candidate() != null) {
                // Registered before the crash: the candidate stands, and waits for an admin.
                store.runs().save(r.succeeded(r.candidate(), r.gateJson(), false, System.currentTimeMillis()));
                continue;
            }
            int attempts = RunFiles.attempts(r) + 1;
            if (attempts > options.maxAttempts() || running != null) {
                store.runs()
                        .save(r.failed(
                                "interrupted by a server restart " + (attempts - 1) + " times",
                                System.currentTimeMillis()));
            } else {
                LOG.info("resuming training run {} interrupted by a restart (attempt {})", r.id(), attempts);
                launch(r, attempts);
            }
        }
    }

    private synchronized void launch(TrainingRun run, int attempt) {
        running = run.id();
        Path dir = Path.of(run.dir());
        try {
            Files.writeString(dir.resolve(RunFiles.ATTEMPTS), Integer.toString(attempt));
            Optional<ModelVersion> active =
                    store.versions().active(ModelVersion.POLICY).flatMap(store.versions()::find);
            // The router has verified what it serves; the run needs only its files.
            Path against = active.isPresent() ? registry.localCopy(active.get()) : null;
            // Earlier runs that finished, newest first: InstructGPT selected SFT models by the reward
            // model of the last run that made one, and every candidate is judged against the first SFT.
            List<Path> earlier = store.runs().all().stream()
                    .filter(r -> TrainingRun.SUCCEEDED.equals(r.state()) && !r.id().equals(run.id()))
                    .map(r -> Path.of(r.dir(), "pipeline"))
                    .toList();
            Path selectWithRm = stage(earlier, PipelineStages.RM, false);
            Path firstSft = stage(earlier, PipelineStages.SFT, true);
            PipelineRequest request = new PipelineRequest(
                    dataDir,
                    null,
                    options.split(),
                    options.heldOutLabelers(),
                    options.baseModel(),
                    dir.resolve("pipeline"),
                    JSON.readTree(run.configJson()),
                    against,
                    selectWithRm,
                    dir.resolve("export"),
                    dir.resolve(RunFiles.PROGRESS),
                    weights,
                    firstSft);
            Path requestFile = dir.resolve(RunFiles.REQUEST);
            request.write(requestFile);
            List<String> cmd = new ArrayList<>();
            if (Files.isExecutable(Path.of("/usr/bin/nice"))) {
                cmd.addAll(List.of("/usr/bin/nice", "-n", "10"));
            }
            cmd.addAll(options.launcher().command(requestFile));
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(
                            dir.resolve(RunFiles.LOG).toFile()));
            pb.environment().clear();
            pb.environment().putAll(RunEnvironment.of(System.getenv(), storeEnv, options.trainingThreads()));
            // A child that outlived a killed server still writes this run: stop it first, never run two.
            ChildProcess.alive(dir).ifPresent(orphan -> {
                LOG.warn("stopping process {} of training run {} left by an earlier server", orphan.pid(), run.id());
                ChildProcess.stop(orphan);
            });
            Process process = pb.start();
            ChildProcess.record(dir, process);
            child = process;
            try {
                store.runs().save(run.withProgress(run.stage(), run.progress(), System.currentTimeMillis()));
            } catch (RuntimeException storeFailed) {
                // Without its row the run cannot be followed: stop the child, leave nothing running.
                ChildProcess.stop(process.toHandle());
                child = null;
                throw storeFailed;
            }
            watcher.execute(() -> watch(run.id(), process));
        } catch (IOException e) {
            running = null;
            store.runs().save(run.failed("cannot start the pipeline: " + e.getMessage(), System.currentTimeMillis()));
        } catch (RuntimeException e) {
            running = null;
            throw e;
        }
    }

    /** The newest (or the oldest) of {@code pipelines}' checkpoints of {@code stage}, or null. */
    private static Path stage(List<Path> pipelines, String stage, boolean oldest) {
        List<Path> found = pipelines.stream()
                .map(p -> p.resolve(stage))
                .filter(p -> Files.exists(p.resolve("config.json")))
                .toList();
        return found.isEmpty() ? null : found.get(oldest ? found.size() - 1 : 0);
    }

    /** Follows the child's progress file until it exits, then registers its candidate. */
    private void watch(String id, Process process) {
        try {
            while (!process.waitFor(1, TimeUnit.SECONDS)) {
                try {
                    progress(id);
                } catch (RuntimeException e) {
                    // The store may come back; the child must not be lost meanwhile: keep following it.
                    LOG.warn("training run {}: cannot record progress: {}", id, e.getMessage());
                }
            }
            progress(id);
            if (closing || !supervising) {
                // Stopped by a shutdown or a hand-over: the run stays "running", and its next
                // supervisor (this server restarted, or another replica) resumes it.
                return;
            }
            TrainingRun run = store.runs().find(id).orElseThrow();
            Path dir = Path.of(run.dir());
            if (process.exitValue() != 0) {
                store.runs()
                        .save(run.failed(
                                "the pipeline exited with " + process.exitValue() + ": " + RunFiles.lastLine(dir),
                                System.currentTimeMillis()));
                return;
            }
            finish(run, dir);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.error("training run {} failed", id, e);
            try {
                store.runs()
                        .find(id)
                        .ifPresent(r -> store.runs().save(r.failed(e.getMessage(), System.currentTimeMillis())));
            } catch (RuntimeException storeFailed) {
                LOG.error("training run {}: cannot record its failure: {}", id, storeFailed.getMessage());
            }
        } finally {
            synchronized (this) {
                // A child still alive stays known, so that close() stops it.
                if (child == process && !process.isAlive()) {
                    child = null;
                }
                if (id.equals(running)) {
                    running = null;
                }
            }
        }
    }

    private void finish(TrainingRun run, Path dir) throws IOException {
        Path export = dir.resolve("export");
        JsonNode manifest = JSON.readTree(export.resolve(Layout.EXPORT_MANIFEST).toFile());
        String parent = store.versions().active(ModelVersion.POLICY).orElse(null);
        ModelVersion v = registry.register(export, parent);
        JsonNode gate = manifest.path("gate");
        // Recorded at once: a crash from here on must not train and register the candidate again.
        run = run.registered(v.version(), gate.isMissingNode() ? null : gate.toString(), System.currentTimeMillis());
        store.runs().save(run);
        boolean passed = gate.path("passed").asBoolean(false);
        boolean promoted = false;
        String error = null;
        if (passed && options.autoPromote()) {
            try {
                promote.accept(v);
                promoted = true;
            } catch (RuntimeException e) {
                error = "registered as version " + v.version() + " but not promoted: " + e.getMessage();
            }
        }
        String snapshotPath = manifest.path("training").path("data_snapshot").asText(null);
        store.runs()
                .save(run.withSnapshot(
                                snapshotPath == null
                                        ? run.snapshot()
                                        : Path.of(snapshotPath).getFileName().toString(),
                                System.currentTimeMillis())
                        .succeeded(
                                v.version(),
                                gate.isMissingNode() ? null : gate.toString(),
                                promoted,
                                System.currentTimeMillis())
                        .withError(error));
        LOG.info(
                "training run {} registered version {} (gate {}, promoted: {})",
                run.id(),
                v.version(),
                passed ? "passed" : "failed",
                promoted);
    }

    private void progress(String id) {
        RunFiles.progressed(store.runs().find(id).orElseThrow()).ifPresent(store.runs()::save);
    }

    /** The run's metrics for charts: every stage's {@code metrics.jsonl}, each row tagged with its stage. */
    public List<JsonNode> metrics(TrainingRun run) throws IOException {
        return RunFiles.metrics(run);
    }

    /** Snapshots under the data directory that hold any of the user's prompts. */
    public List<String> snapshotsHolding(String userId) throws IOException {
        return SnapshotIndex.holding(dataDir.resolve("snapshots"), userId);
    }

    /** How this server splits users; its labeling queue must keep the test split out. */
    public SplitPolicy split() {
        return options.split();
    }

    /** Stops the child (its stages resume from checkpoints when the server comes back). */
    @Override
    public void close() {
        closing = true;
        Process p = child; // before the watcher is interrupted
        timer.shutdownNow();
        watcher.shutdownNow();
        if (p != null) {
            ChildProcess.stop(p.toHandle());
        }
        if (supervision != null) {
            try {
                supervision.close();
            } catch (RuntimeException e) {
                LOG.warn("cannot give up the supervision of training runs: {}", e.getMessage());
            }
        }
    }
}
