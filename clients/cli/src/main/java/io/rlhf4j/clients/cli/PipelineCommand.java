package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.loop.PipelineProgress;
import io.rlhf4j.core.loop.PipelineRequest;
import io.rlhf4j.core.loop.ProcessId;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.exporter.onnx.OnnxFiles;
import io.rlhf4j.trainer.data.DatasetBuilder;
import io.rlhf4j.trainer.pipeline.Pipeline;
import io.rlhf4j.trainer.pipeline.PipelineConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "pipeline",
        mixinStandardHelpOptions = true,
        description = {
            "SFT, reward model and PPO(-ptx) (or DPO, RLOO: --policy) on one snapshot, then the evaluation gate (win rate against "
                    + "--against on held-out test prompts, and the alignment tax), and optionally the export.",
            "With --data-dir and no --snapshot it first builds a snapshot from the store. Running again on the same "
                    + "--out resumes an interrupted run on the same snapshot.",
            "--request FILE runs a pipeline request (JSON) as a server's training loop writes it, instead of "
                    + "the flags."
        })
final class PipelineCommand implements Callable<Integer> {

    @Mixin
    StoreOptions store;

    @Option(
            names = "--request",
            paramLabel = "FILE",
            description = "a pipeline request (JSON); the other flags, " + "except the store's, are then not used")
    Path requestFile;

    @Option(
            names = "--snapshot",
            paramLabel = "DIR",
            description = "a built snapshot; default: build one from the store")
    Path snapshot;

    @Option(names = "--model", paramLabel = "DIR", description = "the base checkpoint SFT starts from")
    Path model;

    @Option(names = "--out", paramLabel = "DIR", description = "run directory: sft/, rm/, ppo/ (dpo/, rloo/), eval/")
    Path out;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "YAML or JSON: policy, and sections sft, rm, ppo, dpo, rloo, eval")
    Path configFile;

    @Option(
            names = "--policy",
            paramLabel = "NAME",
            description =
                    "the stage that makes the candidate: ppo (PPO-ptx), dpo or rloo; default: the config's " + "(ppo)")
    String policy;

    @Option(
            names = "--against",
            paramLabel = "DIR",
            description = "the checkpoint the candidate must beat (the "
                    + "active version); default: the run's own SFT model")
    Path against;

    @Option(
            names = "--select-with-rm",
            paramLabel = "DIR",
            description = "a reward model to select the SFT " + "checkpoint by; default: validation loss")
    Path selectionRm;

    @Option(
            names = "--held-out-labelers",
            defaultValue = "",
            paramLabel = "PREFIX",
            description = "labelers held out of RM training when building a snapshot (default: none)")
    String heldOut;

    @Option(
            names = "--export",
            paramLabel = "DIR",
            description = "export the candidate (ONNX, parity, manifest with " + "lineage and gate) into DIR")
    Path export;

    @Option(names = "--progress", paramLabel = "FILE", description = "keep {stage, progress, snapshot} JSON here")
    Path progressFile;

    @picocli.CommandLine.Mixin
    DeviceOption device;

    /** The exit status of a run whose supervising server is gone. */
    static final int ORPHANED = 3;

    @Override
    public Integer call() throws Exception {
        ProcessId.supervisor(System.getenv()).ifPresent(PipelineCommand::stopWith);
        device.use();
        PipelineRequest request = requestFile != null ? PipelineRequest.read(requestFile) : fromFlags();
        PipelineConfig config = PipelineConfig.defaults()
                .with(request.config(), requestFile != null ? requestFile.toString() : "--config");
        Path run = request.out();
        Files.createDirectories(run);
        Path snap = request.snapshot() != null ? request.snapshot() : snapshotFor(request);
        String snapshotId = snap.getFileName().toString();
        Json.MAPPER
                .writerWithDefaultPrettyPrinter()
                .writeValue(run.resolve("pipeline_config.json").toFile(), config.toJson());
        Pipeline.Result r = new Pipeline(
                        config,
                        System.err,
                        (stage, fraction) -> progress(request, new PipelineProgress(stage, fraction, snapshotId)))
                .run(snap, request.baseModel(), run, request.against(), request.selectWithRm(), request.firstSft());
        if (request.export() != null) {
            progress(request, new PipelineProgress("export", 0.92, snapshotId));
            new Exporter(System.err)
                    .export(new Exporter.Options(
                            r.candidate(),
                            request.export(),
                            false,
                            true,
                            1e-4,
                            8,
                            OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD,
                            false,
                            Exporter.Quantize.serving(request.weights())));
        }
        progress(request, new PipelineProgress("done", 1.0, snapshotId));
        System.out.println(r.gate().toPrettyString());
        return 0;
    }

    private PipelineRequest fromFlags() throws Exception {
        if (model == null || out == null) {
            throw new IllegalArgumentException("--model and --out are required (or --request FILE)");
        }
        PipelineConfig read = configFile == null ? PipelineConfig.defaults() : PipelineConfig.read(configFile);
        JsonNode config = configFile == null && policy == null
                ? null
                : (policy == null ? read : read.withPolicy(policy)).toJson();
        return new PipelineRequest(
                store.dataDir,
                snapshot,
                SplitPolicy.DEFAULT,
                heldOut,
                model,
                out,
                config,
                against,
                selectionRm,
                export,
                progressFile,
                null,
                null);
    }

    /**
     * Stops this process when {@code supervisor} is gone (now, or whenever it exits): the run stays
     * "running" in the store, and whichever server supervises next resumes it from its checkpoints.
     */
    private static void stopWith(ProcessId supervisor) {
        Optional<ProcessHandle> alive = supervisor.alive();
        Runnable stop = () -> {
            System.err.println("rlhf4j train pipeline: the server supervising this run (process " + supervisor.pid()
                    + ") is gone; stopping, so that the next supervisor resumes the run");
            System.exit(ORPHANED);
        };
        if (alive.isEmpty()) {
            stop.run();
        } else {
            alive.get().onExit().thenRun(stop);
        }
    }

    /** The snapshot this run trains on: built once, then the same one on every resume. */
    private Path snapshotFor(PipelineRequest request) throws Exception {
        Path pinned = request.out().resolve("snapshot.json");
        if (Files.exists(pinned)) {
            return Path.of(Json.MAPPER.readTree(pinned.toFile()).get("path").asText());
        }
        Path legacy = request.out().resolve("snapshot.txt"); // pinned by runs started before snapshot.json
        if (Files.exists(legacy)) {
            return Path.of(Files.readString(legacy).strip());
        }
        progress(request, new PipelineProgress("snapshot", 0.0, null));
        Path snapshots = request.dataDir().resolve("snapshots");
        JsonNode manifest;
        try (Store s = store.open(request.dataDir())) {
            manifest = DatasetBuilder.build(
                    s,
                    snapshots,
                    DatasetBuilder.Options.defaults()
                            .withSplit(request.split())
                            .withHeldOutLabelers(request.heldOutLabelers()));
        }
        Path built = snapshots.resolve(manifest.get("id").asText()).toAbsolutePath();
        System.err.println("built snapshot " + built + ": " + manifest.get("counts"));
        Json.writeAtomically(pinned, Json.MAPPER.createObjectNode().put("path", built.toString()));
        return built;
    }

    private static void progress(PipelineRequest request, PipelineProgress p) {
        if (request.progress() == null) {
            return;
        }
        try {
            p.write(request.progress());
        } catch (java.io.IOException e) {
            System.err.println("warning: cannot write progress to " + request.progress() + ": " + e.getMessage());
        }
    }
}
