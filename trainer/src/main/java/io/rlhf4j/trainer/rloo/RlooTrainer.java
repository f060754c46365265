package io.rlhf4j.trainer.rloo;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.data.PromptSet;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Owned;
import io.rlhf4j.trainer.model.PretrainingMix;
import io.rlhf4j.trainer.model.TokenLogprobs;
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
import java.util.stream.IntStream;

/**
 * REINFORCE leave-one-out (Ahmadian et al. 2024, "Back to Basics"): each iteration samples {@code k}
 * completions of a few PPO prompts from the policy, rewards each with the reward model's score minus
 * {@code beta} times its summed log-ratio against the frozen SFT reference, and takes one gradient step
 * on {@code -mean(A_i * log pi(y_i | x))} with {@link LeaveOneOut} advantages: no critic, no clipping,
 * one policy forward with gradients per iteration. {@code gamma > 0} adds PPO-ptx's pretraining term.
 */
public final class RlooTrainer {

    public static final String KIND = "rloo";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /**
     * What a run reports: mean reward-model score of fresh samples before and after (NaN: stopped early), and
     * the memory estimate it printed.
     */
    public record Outcome(int iterations, double rewardBefore, double rewardAfter, MemoryEstimate memory) {}

    private final RlooConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;
    private LoraConfig lora;

    public RlooTrainer(RlooConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    /**
     * Trains a LoRA adapter on the frozen SFT weights instead of every weight (null: full); the reference
     * is then the base itself, so one copy of the SFT weights is held instead of two.
     */
    public RlooTrainer withLora(LoraConfig lora) {
        this.lora = lora;
        return this;
    }

    public RlooTrainer stopAfter(int iteration) {
        this.stopAfter = iteration;
        return this;
    }

    /**
     * Trains the policy from {@code sft} against {@code rewardModel} on the snapshot's PPO prompts.
     *
     * @param ptx pretraining text for the {@code gamma} term; null when {@code gamma} is 0
     */
    public Outcome run(Path snapshot, Path sft, Path rewardModel, Path out, TokenStream ptx) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        RewardModel.requireTokenizerOf(sft, rewardModel);
        PretrainingMix mix = PretrainingMix.of(config.gamma(), ptx, config.seed(), config.ptxBatchSize(), "RLOO");
        ModelConfig policyConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        int window = policyConfig.maxPositions();
        List<int[]> prompts = PromptSet.load(snapshot, "train", tokenizer, window);
        List<int[]> evalPrompts = PromptSet.load(snapshot, "validation", tokenizer, window);
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no PPO training prompts");
        }
        List<int[]> scored = evalPrompts.isEmpty() ? prompts : evalPrompts;
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", StageRunner.absolute(sft));
        configJson.put("reward_model", StageRunner.absolute(rewardModel));
        configJson.put("snapshot", StageRunner.absolute(snapshot));
        FineTune.record(configJson, lora);
        StageRunner runner = new StageRunner(out, KIND, configJson, config.iterations(), "iteration", log);
        if (runner.finished("")) {
            return new Outcome(config.iterations(), Double.NaN, Double.NaN, null);
        }
        // An iteration's samples share one backward.
        int longest =
                Math.min(window, prompts.stream().mapToInt(p -> p.length).max().orElseThrow() + config.maxNewTokens());
        // The reward model and the reference, which under LoRA is the base the policy's adapter rides on.
        MemoryEstimate memory = MemoryEstimate.of("RLOO", policyConfig)
                .frozen(lora == null ? 2 : 1)
                .activations((long) config.promptsPerIteration() * config.k(), longest, true)
                .pretrainingMix(mix)
                .trained(lora, 0, 1)
                .build()
                .require();
        log.println(memory.describe());
        try (NDManager manager = TrainingDevice.newManager();
                Decoder reference =
                        Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
                Decoder trained = lora != null
                        ? null
                        : Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
                RewardModel reward = RewardModel.load(rewardModel, manager);
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            FineTune tune = FineTune.of(lora, lora != null ? reference : trained, config.seed(), sft, manager);
            Decoder policy = tune.model();
            Training training = new Training(tune, reference, reward, optimizer, tokenizer, prompts, scored, mix);
            StageRunner.Progress progress = runner.train("rloo", training, stopAfter);
            if (progress.step() < config.iterations()) {
                return new Outcome(progress.step(), training.before, Double.NaN, memory);
            }
            double after = meanScore(policy, reward, tokenizer, scored);
            ObjectNode manifest = FineTune.record(
                    StageRunner.manifest(
                            KIND, sft, List.of(new StageRunner.Input("reward_model", rewardModel)), snapshot, config),
                    lora);
            manifest.putObject("metrics").put("reward_before", training.before).put("reward_after", after);
            tune.saveFinal(runner.state(), tokenizer, progress.metrics(), manifest);
            log.printf("RLOO done: mean reward %.3f -> %.3f; policy in %s%n", training.before, after, out);
            return new Outcome(config.iterations(), training.before, after, memory);
        }
    }

    private double meanScore(Decoder model, RewardModel reward, Tokenizer tokenizer, List<int[]> prompts) {
        return SampledReward.mean(
                model,
                reward,
                tokenizer,
                prompts,
                config.maxNewTokens(),
                config.promptsPerIteration() * config.k(),
                config.seed() ^ 0x5EED);
    }

    /** RLOO's iterations as steps: sample, score, one REINFORCE update; a checkpoint after each. */
    private final class Training implements Stage {
        private final FineTune tune;
        private final Decoder policy;
        private final Decoder reference;
        private final RewardModel reward;
        private final AdamW optimizer;
        private final Tokenizer tokenizer;
        private final List<int[]> prompts;
        private final List<int[]> scored;
        private final PretrainingMix ptx;
        private Map<String, NDArray> params;
        double before;

        Training(
                FineTune tune,
                Decoder reference,
                RewardModel reward,
                AdamW optimizer,
                Tokenizer tokenizer,
                List<int[]> prompts,
                List<int[]> scored,
                PretrainingMix ptx) {
            this.tune = tune;
            this.policy = tune.model();
            this.reference = reference;
            this.reward = reward;
            this.optimizer = optimizer;
            this.tokenizer = tokenizer;
            this.prompts = prompts;
            this.scored = scored;
            this.ptx = ptx;
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            // One optimizer step per iteration, so the step reached is Adam's step count too.
            return tune.restore(run, optimizer, step);
        }

        @Override
        public List<String> begin() {
            return List.of();
        }

        @Override
        public void beforeFirstStep() {
            // The reference holds the SFT weights: the policy as it was before any iteration, resumed or not.
            before = meanScore(reference, reward, tokenizer, scored);
            policy.requireGradients();
            params = tune.parameters();
        }

        @Override
        public ObjectNode step(int it) {
            long t0 = System.nanoTime();
            Samples s = sample(it);
            long generation = System.nanoTime() - t0;
            double lr = config.optimizer().lr();
            double loss;
            double policyLoss;
            double ptxLoss = 0;
            double norm;
            double meanKl = 0;
            double meanReward = 0;
            double meanScore = 0;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                PaddedBatch b = PaddedBatch.of(s.sequences(), policy.manager());
                float[] ref = TokenLogprobs.completionSums(
                                TokenLogprobs.of(reference, b), s.promptLengths(), s.lengths())
                        .toFloatArray();
                float[] scores =
                        reward.rewards(b.ids(), b.positions(), b.mask()).toFloatArray();
                for (float x : scores) {
                    meanScore += x;
                }
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray logprobs =
                            TokenLogprobs.completionSums(TokenLogprobs.of(policy, b), s.promptLengths(), s.lengths());
                    float[] lp = logprobs.toFloatArray();
                    float[] advantages = new float[lp.length];
                    for (int[] group : s.groups()) {
                        double[] rewards = new double[group.length];
                        for (int j = 0; j < group.length; j++) {
                            int i = group[j];
                            double kl = lp[i] - ref[i];
                            rewards[j] = scores[i] - config.beta() * kl;
                            meanKl += kl;
                            meanReward += rewards[j];
                        }
                        double[] a = LeaveOneOut.advantages(rewards);
                        for (int j = 0; j < group.length; j++) {
                            advantages[group[j]] = (float) a[j];
                        }
                    }
                    NDArray total = logprobs.mul(
                                    Owned.copy(logprobs.getManager().create(advantages)))
                            .mean()
                            .neg();
                    policyLoss = total.getFloat();
                    if (ptx != null) {
                        NDArray nll = ptx.loss(policy, it);
                        ptxLoss = nll.getFloat();
                        total = total.add(nll.mul(Owned.scalar(nll, config.gamma())));
                    }
                    gc.backward(total);
                    loss = total.getFloat();
                }
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException(
                            "RLOO diverged at iteration " + it + ": loss is " + loss + " (lower the learning rate)");
                }
                norm = AdamW.clipGradients(params, config.optimizer().gradClip());
                optimizer.step(params, lr);
            }
            int n = s.sequences().size();
            ObjectNode row = JSONL.createObjectNode()
                    .put("step", it + 1)
                    .put("reward", meanScore / n)
                    .put("kl", meanKl / n)
                    .put("objective", meanReward / n)
                    .put("policy_loss", policyLoss)
                    .put("loss", loss)
                    .put("response_length", s.meanCompletionLength())
                    .put("rollout_tokens_per_second", s.generated() / (generation / 1e9))
                    .put("generation_share", generation / (double) (System.nanoTime() - t0))
                    .put("lr", lr)
                    .put("grad_norm", norm)
                    .put(
                            "trained_tokens",
                            IntStream.of(s.lengths()).asLongStream().sum());
            if (ptx != null) {
                row.put("ptx_loss", ptxLoss);
            }
            return row;
        }

        /** {@code k} samples of each of the iteration's prompts, grouped by prompt. */
        private Samples sample(int it) {
            List<int[]> batch = new ArrayList<>();
            for (int i = 0; i < config.promptsPerIteration(); i++) {
                int[] p = prompts.get((it * config.promptsPerIteration() + i) % prompts.size());
                for (int j = 0; j < config.k(); j++) {
                    batch.add(p);
                }
            }
            // Temperature 1 and no filtering: the samples are the policy's own distribution, as REINFORCE needs.
            SamplingParams sampling = new SamplingParams(
                    config.maxNewTokens(), 1.0, 1.0, 0, List.of(), config.seed() * 1_000_003L + it * 7919L);
            List<Generation> gens = new Generator(policy, tokenizer).generate(batch, sampling);
            return Samples.of(
                    batch, gens, config.k(), tokenizer.eosId(), policy.config().maxPositions());
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
            state.save(policy.config(), policy.toTensors(), optimizer, tokenizer, done, metrics, tune::writeAdapter);
        }
    }
}
