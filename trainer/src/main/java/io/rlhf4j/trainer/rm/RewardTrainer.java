package io.rlhf4j.trainer.rm;

import io.rlhf4j.core.checkpoint.Layout;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.EpochOrder;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.sft.SftExample;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import me.tongfei.progressbar.ProgressBar;

/**
 * Trains the reward model from SFT: the SFT trunk (its unembedding unused) plus a scalar head; each
 * ranking's K completions go through the model together and contribute all C(K,2) comparisons as
 * one batch element ({@link RankingLoss}). After training, the bias is shifted so the labelers'
 * demonstrations score 0 on average. Reports validation accuracy per labeler group.
 */
public final class RewardTrainer {

    public static final String KIND = "rm";
    public static final String MANIFEST = Layout.TRAINING_MANIFEST;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /** Validation figures. */
    public record Evaluation(double loss, double accuracy, Map<String, Double> accuracyByLabeler) {
    }

    /** What a finished run reports. */
    public record Outcome(int steps, Evaluation before, Evaluation after, double biasShift) {
    }

    private final RmConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;

    public RewardTrainer(RmConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    public RewardTrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    public Outcome run(Path snapshot, Path sft, Path out) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        ModelConfig modelConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        List<RankedExample> train = RankedExample.load(snapshot, "train", tokenizer, modelConfig.maxPositions());
        List<RankedExample> validation = RankedExample.load(snapshot, "validation", tokenizer, modelConfig.maxPositions());
        if (train.isEmpty() || validation.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no reward-model " + (train.isEmpty() ? "training"
                    : "validation") + " rankings; import or collect some, then rebuild the snapshot");
        }
        int perEpoch = (train.size() + config.rankingsPerStep() - 1) / config.rankingsPerStep();
        int steps = perEpoch * config.epochs();
        RunDirectory run = new RunDirectory(out);
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", sft.toAbsolutePath().normalize().toString());
        configJson.put("snapshot", snapshot.toAbsolutePath().normalize().toString());
        OptionalInt resumeAt = run.resumableStep(configJson, KIND);
        int start = resumeAt.orElse(0);
        log.printf("reward model: %,d training and %,d validation rankings, %d steps%n", train.size(),
                validation.size(), steps);
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                RewardModel rm = RewardModel.initialise(Decoder.fromTensors(modelConfig, Checkpoint.readWeights(sft),
                        manager, sft.toString()), config.seed());
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            List<String> metrics = new ArrayList<>();
            Evaluation before;
            if (resumeAt.isPresent()) {
                if (start >= steps) {
                    log.printf("%s already holds the finished run; nothing to do%n", out);
                    return new Outcome(steps, null, null, 0);
                }
                metrics.addAll(run.restore(rm::load, optimizer, start));
                JsonNode first = JSONL.readTree(metrics.get(0));
                before = new Evaluation(first.get("val_loss").asDouble(), first.get("val_accuracy").asDouble(), Map.of());
                log.printf("resuming %s at step %d of %d%n", out, start, steps);
            } else {
                before = evaluate(rm, validation);
                metrics.add(JSONL.writeValueAsString(JSONL.createObjectNode().put("step", 0)
                        .put("val_loss", before.loss()).put("val_accuracy", before.accuracy())));
            }
            rm.requireGradients();
            Map<String, NDArray> params = rm.parameters();
            try (ProgressBar bar = RunDirectory.progressBar("rm", steps, log)) {
                bar.stepTo(start);
                int step = start;
                while (step < steps && step < stopAfter) {
                    List<RankedExample> batch = batch(train, step);
                    double lr = config.learningRate(step, steps);
                    Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
                    double loss;
                    double norm;
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                            NDArray total = null;
                            for (RankedExample e : batch) {
                                NDArray l = RankingLoss.loss(rewards(rm, e.sequences()), e.ranks());
                                total = total == null ? l : total.add(l);
                            }
                            NDArray mean = total.div(batch.size());
                            gc.backward(mean);
                            loss = mean.getFloat();
                        }
                        if (!Double.isFinite(loss)) {
                            throw new IllegalStateException("reward-model training diverged at step " + step
                                    + ": loss is " + loss + " (lower the learning rate)");
                        }
                        norm = AdamW.clipGradients(params, config.optimizer().gradClip());
                        optimizer.step(params, lr);
                    }
                    step++;
                    ObjectNode row = JSONL.createObjectNode().put("step", step).put("loss", loss).put("lr", lr)
                            .put("grad_norm", norm);
                    bar.stepTo(step);
                    bar.setExtraMessage(String.format(" loss %.3f", loss));
                    boolean evalNow = step % config.evalEvery() == 0 || step == steps;
                    if (evalNow) {
                        Evaluation ev = evaluate(rm, validation);
                        row.put("val_loss", ev.loss()).put("val_accuracy", ev.accuracy());
                    }
                    metrics.add(JSONL.writeValueAsString(row));
                    if (evalNow || step == stopAfter) {
                        run.save(modelConfig, rm.toTensors(), optimizer, tokenizer, KIND, step, steps, configJson,
                                metrics, null);
                    }
                }
                if (step < steps) {
                    return new Outcome(step, before, null, 0);
                }
            }
            Evaluation after = evaluate(rm, validation);
            double shift = centreOnDemonstrations(rm, snapshot, tokenizer, modelConfig.maxPositions());
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("kind", KIND);
            manifest.put("parent", sft.toAbsolutePath().normalize().toString());
            manifest.put("parent_weights_sha256", Checksums.sha256(sft.resolve(Checkpoint.WEIGHTS)));
            manifest.put("data_snapshot", snapshot.toAbsolutePath().normalize().toString());
            manifest.set("hyper_parameters", JSON.valueToTree(config));
            ObjectNode m = manifest.putObject("metrics");
            m.put("validation_accuracy_before", before.accuracy());
            m.put("validation_accuracy", after.accuracy());
            m.put("validation_loss", after.loss());
            m.set("validation_accuracy_by_labeler", JSON.valueToTree(after.accuracyByLabeler()));
            m.put("bias_shift", shift);
            run.save(modelConfig, rm.toTensors(), null, tokenizer, KIND, steps, steps, configJson, metrics,
                    dir -> JSON.writeValue(dir.resolve(MANIFEST).toFile(), manifest));
            log.printf("reward model done: validation accuracy %.3f -> %.3f; checkpoint in %s%n", before.accuracy(),
                    after.accuracy(), out);
            return new Outcome(steps, before, after, shift);
        }
    }

    /** Rewards [K] of the sequences, right-padded into one forward. */
    static NDArray rewards(RewardModel rm, List<int[]> sequences) {
        PaddedBatch b = PaddedBatch.of(sequences, rm.trunk().manager());
        return rm.rewards(b.ids(), b.positions(), b.mask());
    }

    /** Validation loss and the share of ranked pairs the model orders as the labeler did. */
    public static Evaluation evaluate(RewardModel rm, List<RankedExample> examples) {
        double loss = 0;
        Map<String, int[]> byLabeler = new TreeMap<>();
        int right = 0;
        int total = 0;
        for (RankedExample e : examples) {
            float[] r = rm.scores(e.sequences());
            loss += RankingLoss.value(r, e.ranks());
            int[] counts = byLabeler.computeIfAbsent(e.labeler(), k -> new int[2]);
            for (int[] p : RankingLoss.pairs(e.ranks())) {
                boolean ok = r[p[0]] > r[p[1]];
                right += ok ? 1 : 0;
                total++;
                counts[0] += ok ? 1 : 0;
                counts[1]++;
            }
        }
        Map<String, Double> acc = new TreeMap<>();
        byLabeler.forEach((k, v) -> acc.put(k, v[1] == 0 ? Double.NaN : (double) v[0] / v[1]));
        return new Evaluation(loss / examples.size(), total == 0 ? Double.NaN : (double) right / total, acc);
    }

    /** Shifts the bias so the snapshot's training demonstrations score 0 on average; returns the shift. */
    private double centreOnDemonstrations(RewardModel rm, Path snapshot, Tokenizer tokenizer, int window)
            throws IOException {
        if (!Files.exists(snapshot.resolve("sft.train.jsonl"))) {
            return 0;
        }
        List<SftExample> demos = SftExample.load(snapshot, "train", tokenizer, window);
        if (demos.isEmpty()) {
            return 0;
        }
        double sum = 0;
        for (int i = 0; i < demos.size(); i += 16) {
            List<int[]> seqs = demos.subList(i, Math.min(demos.size(), i + 16)).stream().map(SftExample::tokens).toList();
            for (float r : rm.scores(seqs)) {
                sum += r;
            }
        }
        float shift = (float) -(sum / demos.size());
        rm.shiftBias(shift);
        return shift;
    }

    private List<RankedExample> batch(List<RankedExample> train, int step) {
        List<RankedExample> out = new ArrayList<>();
        for (int i : EpochOrder.batch(train.size(), config.rankingsPerStep(), config.seed(), step)) {
            out.add(train.get(i));
        }
        return out;
    }
}
