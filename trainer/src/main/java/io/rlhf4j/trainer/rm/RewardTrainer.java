package io.rlhf4j.trainer.rm;

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
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.EpochOrder;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.lora.PeftAdapter;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Owned;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.run.MemoryEstimate;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.run.Stage;
import io.rlhf4j.trainer.run.StageRunner;
import io.rlhf4j.trainer.run.StageState;
import io.rlhf4j.trainer.run.TrainingDevice;
import io.rlhf4j.trainer.sft.SftExample;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
    public record Evaluation(double loss, double accuracy, Map<String, Double> accuracyByLabeler) {}

    /** What a run reports; {@code memory} is the estimate it printed (null: an earlier run had finished). */
    public record Outcome(int steps, Evaluation before, Evaluation after, double biasShift, MemoryEstimate memory) {}

    private final RmConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;
    private LoraConfig lora;

    public RewardTrainer(RmConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    /**
     * Trains a LoRA adapter on the frozen SFT trunk, with the scalar head, instead of every weight (null:
     * full). The checkpoint holds the merged trunk and the head, as a full run's, and the adapter beside.
     */
    public RewardTrainer withLora(LoraConfig lora) {
        this.lora = lora;
        return this;
    }

    public RewardTrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    public Outcome run(Path snapshot, Path sft, Path out) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        ModelConfig modelConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        List<RankedExample> train = RankedExample.load(snapshot, "train", tokenizer, modelConfig.maxPositions());
        List<RankedExample> validation =
                RankedExample.load(snapshot, "validation", tokenizer, modelConfig.maxPositions());
        if (train.isEmpty() || validation.isEmpty()) {
            throw new IllegalArgumentException(
                    snapshot + " has no reward-model " + (train.isEmpty() ? "training" : "validation")
                            + " rankings; import or collect some, then rebuild the snapshot");
        }
        int perEpoch = (train.size() + config.rankingsPerStep() - 1) / config.rankingsPerStep();
        int steps = perEpoch * config.epochs();
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", StageRunner.absolute(sft));
        configJson.put("snapshot", StageRunner.absolute(snapshot));
        FineTune.record(configJson, lora);
        StageRunner runner = new StageRunner(out, KIND, configJson, steps, "step", log);
        log.printf(
                "reward model: %,d training and %,d validation rankings, %d steps%n",
                train.size(), validation.size(), steps);
        if (runner.finished("")) {
            return new Outcome(steps, null, null, 0, null);
        }
        MemoryEstimate memory = RankedExample.stepActivations(
                        MemoryEstimate.of("reward model", modelConfig), train, config.rankingsPerStep(), false)
                .trained(lora, 1, 1)
                .build()
                .require();
        log.println(memory.describe());
        try (NDManager manager = TrainingDevice.newManager();
                RewardModel rm = RewardModel.initialise(
                        Decoder.fromTensors(modelConfig, Checkpoint.readWeights(sft), manager, sft.toString()),
                        config.seed());
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            String sftSha = lora == null ? null : Checkpoint.weightsSha256(sft);
            if (lora != null) {
                rm.trunk().attach(LoraAdapter.initialise(lora, rm.trunk(), config.seed(), manager));
                rm.trunk().freeze(lora.basePrecision());
            }
            AtomicDirectory.Filler adapter = dir -> {
                if (lora != null) {
                    PeftAdapter.write(
                            dir,
                            rm.trunk().adapter(),
                            StageRunner.absolute(sft),
                            sftSha,
                            modelConfig.family().name());
                }
            };
            Training training = new Training(rm, optimizer, train, validation, steps, modelConfig, tokenizer, adapter);
            StageRunner.Progress progress = runner.train("rm", training, stopAfter);
            if (progress.step() < steps) {
                return new Outcome(progress.step(), training.before, null, 0, memory);
            }
            Evaluation before = training.before;
            Evaluation after = evaluate(rm, validation);
            double shift = centreOnDemonstrations(rm, snapshot, tokenizer, modelConfig.maxPositions());
            ObjectNode manifest = StageRunner.manifest(KIND, sft, List.of(), snapshot, config);
            FineTune.record(manifest, lora);
            ObjectNode m = manifest.putObject("metrics");
            m.put("validation_accuracy_before", before.accuracy());
            m.put("validation_accuracy", after.accuracy());
            m.put("validation_loss", after.loss());
            m.set("validation_accuracy_by_labeler", JSON.valueToTree(after.accuracyByLabeler()));
            m.put("bias_shift", shift);
            runner.state().saveFinal(modelConfig, rm.toTensors(), tokenizer, progress.metrics(), manifest, adapter);
            log.printf(
                    "reward model done: validation accuracy %.3f -> %.3f; checkpoint in %s%n",
                    before.accuracy(), after.accuracy(), out);
            return new Outcome(steps, before, after, shift, memory);
        }
    }

    /** The reward model's steps: K-way ranking loss on a batch of rankings, clipped gradients, AdamW. */
    private final class Training implements Stage {
        private final RewardModel rm;
        private final AdamW optimizer;
        private final List<RankedExample> train;
        private final List<RankedExample> validation;
        private final int steps;
        private final ModelConfig modelConfig;
        private final Tokenizer tokenizer;
        private final AtomicDirectory.Filler adapter;
        private Map<String, NDArray> params;
        private long tokens;
        private long started;
        Evaluation before;

        Training(
                RewardModel rm,
                AdamW optimizer,
                List<RankedExample> train,
                List<RankedExample> validation,
                int steps,
                ModelConfig modelConfig,
                Tokenizer tokenizer,
                AtomicDirectory.Filler adapter) {
            this.rm = rm;
            this.optimizer = optimizer;
            this.train = train;
            this.validation = validation;
            this.steps = steps;
            this.modelConfig = modelConfig;
            this.tokenizer = tokenizer;
            this.adapter = adapter;
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            // With LoRA the saved trunk is merged: the adapter comes from its own file, the head as always.
            List<String> metrics = run.restore(
                    tensors -> {
                        if (rm.trunk().adapter() == null) {
                            rm.load(tensors);
                        } else {
                            rm.head().load(tensors);
                        }
                    },
                    optimizer,
                    step);
            if (rm.trunk().adapter() != null) {
                PeftAdapter.restore(run.path(), rm.trunk().adapter());
            }
            JsonNode first = JSONL.readTree(metrics.get(0));
            before = new Evaluation(
                    first.get("val_loss").asDouble(), first.get("val_accuracy").asDouble(), Map.of());
            return metrics;
        }

        @Override
        public List<String> begin() throws IOException {
            before = evaluate(rm, validation);
            return List.of(JSONL.writeValueAsString(JSONL.createObjectNode()
                    .put("step", 0)
                    .put("val_loss", before.loss())
                    .put("val_accuracy", before.accuracy())));
        }

        @Override
        public void beforeFirstStep() {
            rm.requireGradients();
            params = rm.parameters();
            started = System.nanoTime();
        }

        @Override
        public ObjectNode step(int step) {
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
                        tokens += (long) e.sequences().size()
                                * e.sequences().stream()
                                        .mapToInt(q -> q.length)
                                        .max()
                                        .orElse(0);
                        NDArray l = RankingLoss.loss(rewards(rm, e.sequences()), e.ranks());
                        total = total == null ? l : total.add(l);
                    }
                    NDArray mean = total.div(Owned.scalar(total, batch.size()));
                    gc.backward(mean);
                    loss = mean.getFloat();
                }
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException("reward-model training diverged at step " + step + ": loss is "
                            + loss + " (lower the learning rate)");
                }
                norm = AdamW.clipGradients(params, config.optimizer().gradClip());
                optimizer.step(params, lr);
            }
            ObjectNode row = JSONL.createObjectNode()
                    .put("step", step + 1)
                    .put("loss", loss)
                    .put("lr", lr)
                    .put("grad_norm", norm)
                    // padded positions through forward and backward, over the training loop so far
                    .put("tokens_per_s", tokens / ((System.nanoTime() - started) / 1e9));
            if (checkpointAt(step + 1)) {
                Evaluation ev = evaluate(rm, validation);
                row.put("val_loss", ev.loss()).put("val_accuracy", ev.accuracy());
            }
            return row;
        }

        @Override
        public String progress(ObjectNode row) {
            return String.format(" loss %.3f", row.get("loss").asDouble());
        }

        // The run checkpoints where it evaluates.
        @Override
        public boolean checkpointAt(int done) {
            return done % config.evalEvery() == 0 || done == steps;
        }

        @Override
        public void save(StageState state, int done, List<String> metrics) throws IOException {
            state.save(modelConfig, rm.toTensors(), optimizer, tokenizer, done, metrics, adapter);
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
            List<int[]> seqs = demos.subList(i, Math.min(demos.size(), i + 16)).stream()
                    .map(SftExample::tokens)
                    .toList();
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
