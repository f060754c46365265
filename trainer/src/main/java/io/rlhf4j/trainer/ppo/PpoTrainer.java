package io.rlhf4j.trainer.ppo;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.data.PromptSet;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.PretrainingMix;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.rm.SampledReward;
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
import java.util.List;
import java.util.Map;

/**
 * PPO-ptx (InstructGPT section 3.5). The policy and a frozen reference start from SFT; the value
 * function starts from the reward model. Each iteration a {@link RolloutMaker} turns sampled completions
 * into {@link Experience}; a few epochs of minibatch updates minimise {@link PpoLoss} (plus, for PPO-ptx,
 * {@code gamma} times the negative log-likelihood of pretraining text); a {@link KlController} sets the
 * next iteration's {@code beta}. This class orchestrates, resumes and writes the lineage.
 */
public final class PpoTrainer {

    public static final String KIND = "ppo";
    public static final String VALUE = "value.safetensors";
    public static final String VALUE_OPTIMIZER = "value_optimizer.safetensors";
    public static final String MANIFEST = Layout.TRAINING_MANIFEST;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper()
            .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE);

    /**
     * One iteration's figures (its metrics.jsonl row); {@code trainedTokens} counts the tokens that went
     * through the policy's backward, once per PPO epoch, and {@code seconds} is its wall time.
     */
    public record Stats(
            int iteration,
            double reward,
            double kl,
            double entropy,
            double clipFraction,
            double valueLoss,
            double ptxLoss,
            double rolloutTokensPerSecond,
            double generationShare,
            double beta,
            long trainedTokens,
            double seconds) {}

    /** One minibatch update's figures. */
    public record UpdateStats(double entropy, double clipFraction, double valueLoss, double ptxLoss) {}

    /**
     * What a run reports: mean reward-model score of fresh samples before and after, and the memory estimate
     * it printed (null: an earlier run had finished).
     */
    public record Outcome(List<Stats> iterations, double rewardBefore, double rewardAfter, MemoryEstimate memory) {}

    private final PpoConfig config;
    private final PpoLoss loss;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;
    private LoraConfig lora;

    public PpoTrainer(PpoConfig config, PrintStream log) {
        this.config = config;
        this.loss = PpoLoss.of(config);
        this.log = log;
    }

    /**
     * Trains LoRA adapters for policy and critic on frozen bases instead of every weight (null: full);
     * {@link PpoModels} says which base each shares.
     */
    public PpoTrainer withLora(LoraConfig lora) {
        this.lora = lora;
        return this;
    }

    public PpoTrainer stopAfter(int iteration) {
        this.stopAfter = iteration;
        return this;
    }

    /**
     * Trains the policy from {@code sft} against {@code rewardModel} on the snapshot's PPO prompts into {@code out}.
     *
     * @param ptx pretraining text for the PPO-ptx term, tokenized with the policy's tokenizer; null when
     *     {@code gamma} is 0
     */
    public Outcome run(Path snapshot, Path sft, Path rewardModel, Path out, TokenStream ptx) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        RewardModel.requireTokenizerOf(sft, rewardModel);
        PretrainingMix mix = PretrainingMix.of(config.gamma(), ptx, config.seed(), config.ptxBatchSize(), "PPO");
        int window = Checkpoint.readConfig(sft).maxPositions();
        List<int[]> prompts = PromptSet.load(snapshot, "train", tokenizer, window);
        List<int[]> evalPrompts = PromptSet.load(snapshot, "validation", tokenizer, window);
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no PPO training prompts");
        }
        if (evalPrompts.isEmpty()) {
            evalPrompts = prompts;
        }
        ModelConfig policyConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", StageRunner.absolute(sft));
        configJson.put("reward_model", StageRunner.absolute(rewardModel));
        configJson.put("snapshot", StageRunner.absolute(snapshot));
        FineTune.record(configJson, lora);
        StageRunner runner = new StageRunner(out, KIND, configJson, config.iterations(), "iteration", log);
        if (runner.finished("")) {
            return new Outcome(List.of(), Double.NaN, Double.NaN, null);
        }
        MemoryEstimate memory = memory(policyConfig, prompts, window, mix, PpoModels.sharesBase(sft, rewardModel, lora))
                .require();
        log.println(memory.describe());
        try (NDManager manager = TrainingDevice.newManager();
                PpoModels models = PpoModels.load(sft, rewardModel, policyConfig, lora, config.seed(), manager);
                AdamW policyOptimizer = config.policyOptimizer().newAdamW(manager);
                AdamW valueOptimizer = config.valueOptimizer().newAdamW(manager)) {
            if (lora != null) {
                log.printf(
                        "PPO with LoRA: one frozen SFT base; the reward model %s%n",
                        models.sharedRewardBase()
                                ? "is an adapter on it too"
                                : "has another base (not a LoRA run on this SFT) and is held apart");
            }
            Decoder policy = models.policy().model();
            RewardModel reward = models.reward();
            Training training =
                    new Training(models, policyOptimizer, valueOptimizer, tokenizer, prompts, evalPrompts, mix);
            StageRunner.Progress progress = runner.train("ppo", training, stopAfter);
            double before = training.before;
            if (progress.step() < config.iterations()) {
                return new Outcome(training.stats, before, Double.NaN, memory);
            }
            double after = meanScore(policy, reward, tokenizer, evalPrompts, config.seed() ^ 0x5EED);
            ObjectNode manifest = FineTune.record(
                    StageRunner.manifest(
                            KIND, sft, List.of(new StageRunner.Input("reward_model", rewardModel)), snapshot, config),
                    lora);
            manifest.putObject("metrics").put("reward_before", before).put("reward_after", after);
            models.policy().saveFinal(runner.state(), tokenizer, progress.metrics(), manifest);
            log.printf("PPO done: mean reward %.3f -> %.3f; policy in %s%n", before, after, out);
            return new Outcome(training.stats, before, after, memory);
        }
    }

    /** PPO's iterations as steps: rollouts, minibatch updates, the next {@code beta}; a checkpoint after each. */
    private final class Training implements Stage {
        private final FineTune tune;
        private final Decoder policy;
        private final Decoder reference;
        private final RewardModel reward;
        private final ValueModel value;
        private final AdamW policyOptimizer;
        private final AdamW valueOptimizer;
        private final Tokenizer tokenizer;
        private final List<int[]> prompts;
        private final List<int[]> evalPrompts;
        private final PretrainingMix ptx;
        private final RolloutMaker maker;
        private double beta = config.beta();
        private KlController kl;
        final List<Stats> stats = new ArrayList<>();
        double before;

        Training(
                PpoModels models,
                AdamW policyOptimizer,
                AdamW valueOptimizer,
                Tokenizer tokenizer,
                List<int[]> prompts,
                List<int[]> evalPrompts,
                PretrainingMix ptx) {
            this.tune = models.policy();
            this.policy = tune.model();
            this.reference = models.reference();
            this.reward = models.reward();
            this.value = models.value();
            this.policyOptimizer = policyOptimizer;
            this.valueOptimizer = valueOptimizer;
            this.tokenizer = tokenizer;
            this.prompts = prompts;
            this.evalPrompts = evalPrompts;
            this.ptx = ptx;
            this.maker = new RolloutMaker(config, policy, reference, reward, value, tokenizer);
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            List<String> metrics = tune.restore(run, null, step);
            Path out = run.path();
            value.load(SafeTensors.read(out.resolve(VALUE)));
            // Several optimizer steps per iteration: their counts (for Adam's bias correction) are in the metrics.
            long policySteps = 0;
            long valueSteps = 0;
            for (String line : metrics) {
                JsonNode row = JSONL.readTree(line);
                beta = row.path("beta_next").asDouble(beta);
                policySteps = row.path("policy_optimizer_steps").asLong(policySteps);
                valueSteps = row.path("value_optimizer_steps").asLong(valueSteps);
            }
            policyOptimizer.restore(SafeTensors.read(out.resolve(RunDirectory.OPTIMIZER)), policySteps);
            valueOptimizer.restore(SafeTensors.read(out.resolve(VALUE_OPTIMIZER)), valueSteps);
            return metrics;
        }

        @Override
        public List<String> begin() {
            return List.of();
        }

        @Override
        public void beforeFirstStep() {
            kl = KlController.of(config, beta);
            // The reference holds the SFT weights: the policy as it was before any iteration, resumed or not.
            before = meanScore(reference, reward, tokenizer, evalPrompts, config.seed() ^ 0x5EED);
            policy.requireGradients();
            value.requireGradients();
        }

        @Override
        public ObjectNode step(int it) {
            Stats s = iteration(it, kl.beta(), maker, policy, value, policyOptimizer, valueOptimizer, prompts, ptx);
            kl = kl.update(s.kl());
            stats.add(s);
            ObjectNode row = JSONL.valueToTree(s);
            row.put("step", it + 1);
            row.put("beta_next", kl.beta());
            row.put("policy_optimizer_steps", policyOptimizer.stepCount());
            row.put("value_optimizer_steps", valueOptimizer.stepCount());
            return row;
        }

        @Override
        public String progress(ObjectNode row) {
            return String.format(
                    " reward %.3f  KL %.3f",
                    row.get("reward").asDouble(), row.get("kl").asDouble());
        }

        @Override
        public boolean checkpointAt(int done) {
            return true;
        }

        @Override
        public void save(StageState state, int done, List<String> metrics) throws IOException {
            state.save(policy.config(), policy.toTensors(), policyOptimizer, tokenizer, done, metrics, dir -> {
                tune.writeAdapter(dir);
                SafeTensors.write(dir.resolve(VALUE), value.toTensors(), Map.of());
                SafeTensors.write(dir.resolve(VALUE_OPTIMIZER), valueOptimizer.stateTensors(), Map.of());
            });
        }
    }

    private Stats iteration(
            int it,
            double beta,
            RolloutMaker maker,
            Decoder policy,
            ValueModel value,
            AdamW policyOptimizer,
            AdamW valueOptimizer,
            List<int[]> prompts,
            PretrainingMix ptx) {
        long t0 = System.nanoTime();
        RolloutMaker.Rollouts rollouts = maker.make(it, prompts, beta);
        List<Experience> experiences = rollouts.experiences();
        double entropy = 0;
        double clipFraction = 0;
        double valueLoss = 0;
        double ptxLoss = 0;
        int updates = 0;
        long trainedTokens = 0;
        for (int epoch = 0; epoch < config.ppoEpochs() && !experiences.isEmpty(); epoch++) {
            for (int from = 0; from < experiences.size(); from += config.minibatchSize()) {
                List<Experience> mb =
                        experiences.subList(from, Math.min(experiences.size(), from + config.minibatchSize()));
                UpdateStats s =
                        update(mb, policy, value, policyOptimizer, valueOptimizer, ptx, it * 1_000_003L + updates);
                entropy += s.entropy();
                clipFraction += s.clipFraction();
                valueLoss += s.valueLoss();
                ptxLoss += s.ptxLoss();
                updates++;
                trainedTokens += mb.stream().mapToLong(e -> e.tokens().length).sum();
            }
        }
        long total = System.nanoTime() - t0;
        int u = Math.max(1, updates);
        double generation = rollouts.generationNanos();
        return new Stats(
                it,
                rollouts.meanScore(),
                rollouts.meanKl(),
                entropy / u,
                clipFraction / u,
                valueLoss / u,
                ptxLoss / u,
                rollouts.generatedTokens() / (generation / 1e9),
                generation / total,
                beta,
                trainedTokens,
                total / 1e9);
    }

    /** One minibatch update of policy and value. */
    UpdateStats update(
            List<Experience> experiences,
            Decoder policy,
            ValueModel value,
            AdamW policyOptimizer,
            AdamW valueOptimizer,
            PretrainingMix ptx,
            long ptxStep) {
        NDManager m = policy.manager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Experience.Minibatch mb = Experience.Minibatch.of(experiences, m);
            PaddedBatch b = mb.batch();
            UpdateStats out;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray logits = policy.forward(
                        b.ids().get(new NDIndex(":, :-1")),
                        b.positions().get(new NDIndex(":, :-1")),
                        b.mask().get(new NDIndex(":, :-1")),
                        null,
                        false);
                NDArray logp = logits.logSoftmax(-1);
                NDArray newLp = logp.gather(b.ids().get(new NDIndex(":, 1:")).expandDims(-1), -1)
                        .squeeze(-1);
                NDArray values = value.values(b.ids(), b.positions(), b.mask()).get(new NDIndex(":, :-1"));
                NDArray ptxNll = ptx != null ? ptx.loss(policy, ptxStep) : null;
                PpoLoss.Losses l = loss.compute(newLp, values, mb, ptxNll);
                double ptxValue = ptxNll == null ? 0 : ptxNll.getFloat();
                gc.backward(l.total());
                out = new UpdateStats(
                        PpoLoss.entropy(logp, mb.mask()).getFloat(),
                        loss.clipFraction(l.ratio(), mb.mask()).getFloat(),
                        l.value().getFloat(),
                        ptxValue);
            }
            AdamW.clipGradients(
                    policy.trainableParameters(), config.policyOptimizer().gradClip());
            AdamW.clipGradients(value.parameters(), config.valueOptimizer().gradClip());
            policyOptimizer.step(
                    policy.trainableParameters(), config.policyOptimizer().lr());
            valueOptimizer.step(value.parameters(), config.valueOptimizer().lr());
            return out;
        }
    }

    /**
     * Reference and reward model frozen, policy and critic trained (full copies, or adapters on one or two
     * bases); a minibatch goes through the policy's and the critic's backward together.
     */
    private MemoryEstimate memory(
            ModelConfig policyConfig, List<int[]> prompts, int window, PretrainingMix mix, boolean shared) {
        int longest =
                Math.min(window, prompts.stream().mapToInt(p -> p.length).max().orElseThrow() + config.maxNewTokens());
        MemoryEstimate.Builder b = MemoryEstimate.of("PPO", policyConfig)
                .activations(config.minibatchSize(), longest, true)
                .activations(config.minibatchSize(), longest, false)
                .pretrainingMix(mix);
        return (lora == null
                        ? b.frozen(2).trained(2).saves(2)
                        : b.frozen(shared ? 1 : 2, lora.basePrecision())
                                .widened(2, lora.basePrecision())
                                .adapters(lora, 3, 2)
                                .saves(2))
                .build();
    }

    private double meanScore(Decoder model, RewardModel reward, Tokenizer tokenizer, List<int[]> prompts, long seed) {
        return SampledReward.mean(
                model, reward, tokenizer, prompts, config.maxNewTokens(), config.rolloutsPerIteration(), seed);
    }
}
