package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.exporter.onnx.OnnxFiles;
import io.rlhf4j.trainer.data.DatasetBuilder;
import io.rlhf4j.trainer.pipeline.Pipeline;
import io.rlhf4j.trainer.pipeline.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = {"SFT, reward model and PPO(-ptx) on one snapshot, then the evaluation gate (win rate against "
                + "--against on held-out test prompts, and the alignment tax), and optionally the export.",
                "With --data-dir and no --snapshot it first builds a snapshot from the store. Running again on the same "
                        + "--out resumes an interrupted run on the same snapshot."})
final class PipelineCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    KeysCommand.StoreOptions store;

    @Option(names = "--snapshot", paramLabel = "DIR", description = "a built snapshot; default: build one from the store")
    Path snapshot;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the base checkpoint SFT starts from")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "run directory: sft/, rm/, ppo/, eval/")
    Path out;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON: sections sft, rm, ppo, eval")
    Path configFile;

    @Option(names = "--against", paramLabel = "DIR", description = "the checkpoint the candidate must beat (the "
            + "active version); default: the run's own SFT model")
    Path against;

    @Option(names = "--select-with-rm", paramLabel = "DIR", description = "a reward model to select the SFT "
            + "checkpoint by; default: validation loss")
    Path selectionRm;

    @Option(names = "--held-out-labelers", defaultValue = "sim-labeler-group-f", paramLabel = "PREFIX",
            description = "labelers held out of RM training when building a snapshot (default ${DEFAULT-VALUE})")
    String heldOut;

    @Option(names = "--export", paramLabel = "DIR", description = "export the candidate (ONNX, parity, manifest with "
            + "lineage and gate) into DIR")
    Path export;

    @Option(names = "--progress", paramLabel = "FILE", description = "keep {stage, progress, snapshot} JSON here")
    Path progressFile;

    @Override
    public Integer call() throws Exception {
        PipelineConfig config = configFile == null ? PipelineConfig.defaults() : PipelineConfig.read(configFile);
        Files.createDirectories(out);
        Path snap = snapshot != null ? snapshot : snapshotFor(out);
        String snapshotId = snap.getFileName().toString();
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve("pipeline_config.json").toFile(), config.toJson());
        Pipeline.Result r = new Pipeline(config, System.err, (stage, fraction) -> progress(stage, fraction, snapshotId))
                .run(snap, model, out, against, selectionRm);
        if (export != null) {
            progress("export", 0.92, snapshotId);
            new Exporter(System.err).export(new Exporter.Options(r.candidate(), export, false, true, 1e-4, 8,
                    OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD, false));
        }
        progress("done", 1.0, snapshotId);
        System.out.println(r.gate().toPrettyString());
        return 0;
    }

    /** The snapshot this run trains on: built once, then the same one on every resume. */
    private Path snapshotFor(Path run) throws Exception {
        Path pinned = run.resolve("snapshot.txt");
        if (Files.exists(pinned)) {
            return Path.of(Files.readString(pinned, StandardCharsets.UTF_8).strip());
        }
        progress("snapshot", 0.0, null);
        ObjectNode manifest;
        try (Store s = store.open()) {
            manifest = DatasetBuilder.build(s, store.dataDir.resolve("snapshots"),
                    DatasetBuilder.Options.defaults().withHeldOutLabelers(heldOut));
        }
        Path built = store.dataDir.resolve("snapshots").resolve(manifest.get("id").asText()).toAbsolutePath();
        System.err.println("built snapshot " + built + ": " + manifest.get("counts"));
        Path tmp = run.resolve("snapshot.txt.tmp");
        Files.writeString(tmp, built.toString(), StandardCharsets.UTF_8);
        Files.move(tmp, pinned, StandardCopyOption.ATOMIC_MOVE);
        return built;
    }

    private void progress(String stage, double fraction, String snapshotId) {
        if (progressFile == null) {
            return;
        }
        try {
            ObjectNode p = JSON.createObjectNode().put("stage", stage).put("progress", fraction);
            if (snapshotId != null) {
                p.put("snapshot", snapshotId);
            }
            Path tmp = progressFile.resolveSibling(progressFile.getFileName() + ".tmp");
            JSON.writeValue(tmp.toFile(), p);
            Files.move(tmp, progressFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            System.err.println("warning: cannot write progress to " + progressFile + ": " + e.getMessage());
        }
    }
}
