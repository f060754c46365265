package io.rlhf4j.trainer.dpo;

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
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.EpochOrder;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Owned;
import io.rlhf4j.trainer.model.PretrainingMix;
import io.rlhf4j.trainer.model.TokenLogprobs;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.rm.RankedExample;
import io.rlhf4j.trainer.rm.RankingLoss;
import io.rlhf4j.trainer.run.MemoryEstimate;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.run.Stage;
import io.rlhf4j.trainer.run.StageRunner;
import io.rlhf4j.trainer.run.StageState;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Direct preference optimisation (Rafailov et al. 2023) on the same K-way rankings the reward model
 * learns from. The policy's implicit reward of a completion is {@code beta * (log pi(y|x) - log
 * pi_SFT(y|x))}, summed over the completion's tokens; each ranking's C(K,2) pairs go through the reward
 * model's own {@link RankingLoss} on those implicit rewards, so a ranking counts once however large K
 * is, exactly as in reward-model training. With {@code gamma > 0} the pretraining term of PPO-ptx is
 * added. The reference log-probabilities are computed once from the SFT weights before training, so no
 * second model is held.
 */
public final class DpoTrainer {

    public static final String KIND = "dpo";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /**
     * Validation figures over the implicit rewards: the ranking loss, the share of ranked pairs ordered
     * as the labeler did (ties in reward count as wrong, so the SFT model itself scores 0), and the mean
     * reward margin of the preferred completion.
     */
    public record Evaluation(double loss, double accuracy, double margin) {}

    /** What a run reports; {@code after} is null when it stopped early, {@code memory} the estimate printed. */
    public record Outcome(int steps, Evaluation before, Evaluation after, MemoryEstimate memory) {}

    private final DpoConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;
    private LoraConfig lora;

    public DpoTrainer(DpoConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    /**
     * Trains a LoRA adapter on the frozen SFT weights instead of every weight (null: full). The reference
     * log-probabilities are the base's, read before the adapter trains.
     */
    public DpoTrainer withLora(LoraConfig lora) {
        this.lora = lora;
        return this;
    }

    public DpoTrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    /**
     * Trains the policy from {@code sft} on the snapshot's rankings into {@code out}.
     *
     * @param ptx pretraining text for the {@code gamma} term, tokenized with the policy's tokenizer; null
     *     when {@code gamma} is 0
     */
    public Outcome run(Path snapshot, Path sft, Path out, TokenStream ptx) throws IOException {
        PretrainingMix mix = PretrainingMix.of(config.gamma(), ptx, config.seed(), config.ptxBatchSize(), "DPO");
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        // No dropout: the implicit reward compares the policy's log-probs with the reference's exactly.
        ModelConfig modelConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        List<RankedExample> train = rankings(snapshot, "train", tokenizer, modelConfig.maxPositions());
        List<RankedExample> validation = rankings(snapshot, "validation", tokenizer, modelConfig.maxPositions());
        if (train.isEmpty() || validation.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no " + (train.isEmpty() ? "training" : "validation")
                    + " rankings with room for a completion; import or collect some, then rebuild the snapshot");
        }
        int steps = (train.size() + config.rankingsPerStep() - 1) / config.rankingsPerStep() * config.epochs();
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", StageRunner.absolute(sft));
        configJson.put("snapshot", StageRunner.absolute(snapshot));
        FineTune.record(configJson, lora);
        StageRunner runner = new StageRunner(out, KIND, configJson, steps, "step", log);
        log.printf("DPO: %,d training and %,d validation rankings, %d steps%n", train.size(), validation.size(), steps);
        if (runner.finished("")) {
            return new Outcome(steps, null, null, null);
        }
        // The reference's log-probs are computed once, up front: no second model is held.
        MemoryEstimate memory = RankedExample.stepActivations(
                        MemoryEstimate.of("DPO", modelConfig), train, config.rankingsPerStep(), true)
                .pretrainingMix(mix)
                .trained(lora, 0, 1)
                .build()
                .require();
        log.println(memory.describe());
        try (NDManager manager = TrainingDevice.newManager();
                Decoder decoder =
                        Decoder.fromTensors(modelConfig, Checkpoint.readWeights(sft), manager, sft.toString());
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            FineTune tune = FineTune.of(lora, decoder, config.seed(), sft, manager);
            Decoder policy = tune.model();
            // The policy holds the SFT weights until a resume loads the run's: the reference's log-probs now.
            List<float[]> refTrain = completionLogprobs(policy, train);
            List<float[]> refValidation = completionLogprobs(policy, validation);
            Training training =
                    new Training(tune, optimizer, train, refTrain, validation, refValidation, mix, steps, tokenizer);
            StageRunner.Progress progress = runner.train("dpo", training, stopAfter);
            if (progress.step() < steps) {
                return new Outcome(progress.step(), training.before, null, memory);
            }
            Evaluation after = evaluate(policy, validation, refValidation);
            ObjectNode manifest = FineTune.record(StageRunner.manifest(KIND, sft, List.of(), snapshot, config), lora);
            manifest.putObject("metrics")
                    .put("validation_accuracy_before", training.before.accuracy())
                    .put("validation_accuracy", after.accuracy())
                    .put("validation_loss", after.loss())
                    .put("validation_margin", after.margin());
            tune.saveFinal(runner.state(), tokenizer, progress.metrics(), manifest);
            log.printf(
                    "DPO done: implicit-reward accuracy %.3f -> %.3f on validation rankings; policy in %s%n",
                    training.before.accuracy(), after.accuracy(), out);
            return new Outcome(steps, training.before, after, memory);
        }
    }

    /** A split's rankings, leaving out those whose prompt fills the whole context. */
    private static List<RankedExample> rankings(Path snapshot, String split, Tokenizer tokenizer, int window)
            throws IOException {
        return RankedExample.load(snapshot, split, tokenizer, window).stream()
                .filter(e -> e.sequences().stream().allMatch(s -> s.length > e.promptLength()))
                .toList();
    }

    /** DPO's steps: the ranking loss on implicit rewards of a batch of rankings, plus the ptx term. */
    private final class Training implements Stage {
        private final FineTune tune;
        private final Decoder policy;
        private final AdamW optimizer;
        private final List<RankedExample> train;
        private final List<float[]> refTrain;
        private final List<RankedExample> validation;
        private final List<float[]> refValidation;
        private final PretrainingMix ptx;
        private final int steps;
        private final Tokenizer tokenizer;
        private Map<String, NDArray> params;
        Evaluation before;

        Training(
                FineTune tune,
                AdamW optimizer,
                List<RankedExample> train,
                List<float[]> refTrain,
                List<RankedExample> validation,
                List<float[]> refValidation,
                PretrainingMix ptx,
                int steps,
                Tokenizer tokenizer) {
            this.tune = tune;
            this.policy = tune.model();
            this.optimizer = optimizer;
            this.train = train;
            this.refTrain = refTrain;
            this.validation = validation;
            this.refValidation = refValidation;
            this.ptx = ptx;
            this.steps = steps;
            this.tokenizer = tokenizer;
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            List<String> metrics = tune.restore(run, optimizer, step);
            JsonNode first = JSONL.readTree(metrics.get(0));
            before = new Evaluation(
                    first.get("val_loss").asDouble(),
                    first.get("val_accuracy").asDouble(),
                    first.get("val_margin").asDouble());
            return metrics;
        }

        @Override
        public List<String> begin() throws IOException {
            before = evaluate(policy, validation, refValidation);
            return List.of(JSONL.writeValueAsString(
                    validationRow(JSONL.createObjectNode().put("step", 0), before)));
        }

        @Override
        public void beforeFirstStep() {
            policy.requireGradients();
            params = tune.parameters();
        }

        @Override
        public ObjectNode step(int step) {
            int[] batch = EpochOrder.batch(train.size(), config.rankingsPerStep(), config.seed(), step);
            double lr = config.learningRate(step, steps);
            Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
            double loss;
            double dpoLoss;
            double ptxLoss = 0;
            double norm;
            Pairs pairs = new Pairs();
            long tokens = 0;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray total = null;
                    for (int i : batch) {
                        RankedExample e = train.get(i);
                        tokens +=
                                e.sequences().stream().mapToLong(q -> q.length).sum();
                        NDArray rewards = implicitRewards(policy, e, refTrain.get(i));
                        pairs.add(rewards.toFloatArray(), e.ranks());
                        NDArray l = RankingLoss.loss(rewards, e.ranks());
                        total = total == null ? l : total.add(l);
                    }
                    NDArray mean = total.div(Owned.scalar(total, batch.length));
                    dpoLoss = mean.getFloat();
                    if (ptx != null) {
                        NDArray nll = ptx.loss(policy, step);
                        ptxLoss = nll.getFloat();
                        mean = mean.add(nll.mul(Owned.scalar(nll, config.gamma())));
                    }
                    gc.backward(mean);
                    loss = mean.getFloat();
                }
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException("DPO diverged at step " + step + ": loss is " + loss
                            + " (lower the learning rate or beta)");
                }
                norm = AdamW.clipGradients(params, config.optimizer().gradClip());
                optimizer.step(params, lr);
            }
            ObjectNode row = JSONL.createObjectNode()
                    .put("step", step + 1)
                    .put("loss", loss)
                    .put("dpo_loss", dpoLoss)
                    .put("reward_accuracy", pairs.accuracy())
                    .put("reward_margin", pairs.margin())
                    .put("lr", lr)
                    .put("grad_norm", norm)
                    .put("trained_tokens", tokens);
            if (ptx != null) {
                row.put("ptx_loss", ptxLoss);
            }
            if (checkpointAt(step + 1)) {
                validationRow(row, evaluate(policy, validation, refValidation));
            }
            return row;
        }

        @Override
        public String progress(ObjectNode row) {
            return String.format(
                    " loss %.3f  acc %.2f",
                    row.get("loss").asDouble(), row.get("reward_accuracy").asDouble());
        }

        // The run checkpoints where it evaluates.
        @Override
        public boolean checkpointAt(int done) {
            return done % config.evalEvery() == 0 || done == steps;
        }

        @Override
        public void save(StageState state, int done, List<String> metrics) throws IOException {
            state.save(policy.config(), policy.toTensors(), optimizer, tokenizer, done, metrics, tune::writeAdapter);
        }
    }

    private static ObjectNode validationRow(ObjectNode row, Evaluation e) {
        return row.put("val_loss", e.loss()).put("val_accuracy", e.accuracy()).put("val_margin", e.margin());
    }

    /** {@code beta * (log pi(y_k|x) - log pi_SFT(y_k|x))} of a ranking's K completions: [K], differentiable. */
    private NDArray implicitRewards(Decoder policy, RankedExample e, float[] reference) {
        NDArray lp = completionSums(policy, e);
        return lp.sub(Owned.copy(lp.getManager().create(reference))).mul(Owned.scalar(lp, config.beta()));
    }

    /** Summed completion log-probabilities [K] of a ranking's sequences, in one right-padded forward. */
    private static NDArray completionSums(Decoder model, RankedExample e) {
        PaddedBatch b = PaddedBatch.of(e.sequences(), model.manager());
        int k = e.sequences().size();
        int[] promptLengths = new int[k];
        Arrays.fill(promptLengths, e.promptLength());
        int[] lengths = e.sequences().stream().mapToInt(s -> s.length).toArray();
        return TokenLogprobs.completionSums(TokenLogprobs.of(model, b), promptLengths, lengths);
    }

    private static List<float[]> completionLogprobs(Decoder model, List<RankedExample> examples) {
        List<float[]> out = new ArrayList<>();
        for (RankedExample e : examples) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                out.add(completionSums(model, e).toFloatArray());
            }
        }
        return out;
    }

    /** The implicit-reward figures of {@code examples} under the policy as it stands (no gradients). */
    private Evaluation evaluate(Decoder policy, List<RankedExample> examples, List<float[]> reference) {
        double loss = 0;
        Pairs pairs = new Pairs();
        List<float[]> lp = completionLogprobs(policy, examples);
        for (int i = 0; i < examples.size(); i++) {
            RankedExample e = examples.get(i);
            float[] r = new float[lp.get(i).length];
            for (int k = 0; k < r.length; k++) {
                r[k] = (float) (config.beta() * (lp.get(i)[k] - reference.get(i)[k]));
            }
            loss += RankingLoss.value(r, e.ranks());
            pairs.add(r, e.ranks());
        }
        return new Evaluation(loss / examples.size(), pairs.accuracy(), pairs.margin());
    }

    /** The ranked pairs seen so far: how many the implicit rewards order as the labeler did, and by how much. */
    private static final class Pairs {
        private int right;
        private int count;
        private double margin;

        void add(float[] rewards, int[] ranks) {
            for (int[] p : RankingLoss.pairs(ranks)) {
                right += rewards[p[0]] > rewards[p[1]] ? 1 : 0;
                margin += rewards[p[0]] - rewards[p[1]];
                count++;
            }
        }

        double accuracy() {
            return (double) right / count;
        }

        double margin() {
            return margin / count;
        }
    }
}
