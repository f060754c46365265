package io.rlhf4j.trainer.ppo;

import io.rlhf4j.core.checkpoint.Layout;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LanguageModelLoss;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.run.RunDirectory;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import me.tongfei.progressbar.ProgressBar;

/**
 * PPO-ptx (InstructGPT section 3.5). The policy and a frozen reference start from SFT; the value
 * function starts from the reward model. Each iteration samples completions of PPO prompts with the
 * policy (the trainer's batched KV-cache generation), scores them with the frozen reward model, and
 * turns them into per-token rewards: {@code -beta * (log pi(y_t) - log pi_SFT(y_t))} at every token,
 * plus the reward model's score at the last. GAE gives advantages (whitened) and returns; a few epochs
 * of clipped-surrogate and clipped-value updates follow, and PPO-ptx adds {@code gamma} times the
 * log-likelihood of pretraining text to the policy's objective. EOS is an action like any token: the
 * reward model scores EOS-terminated sequences, as it was trained to.
 */
public final class PpoTrainer {

    public static final String KIND = "ppo";
    public static final String VALUE = "value.safetensors";
    public static final String VALUE_OPTIMIZER = "value_optimizer.safetensors";
    public static final String MANIFEST = Layout.TRAINING_MANIFEST;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper()
            .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE);

    /** One iteration's figures (the metrics.jsonl row). */
    public record Stats(int iteration, double reward, double kl, double entropy, double clipFraction,
            double valueLoss, double ptxLoss, double rolloutTokensPerSecond, double generationShare, double beta) {
    }

    /** What a run reports: mean reward-model score of fresh samples before and after. */
    public record Outcome(List<Stats> iterations, double rewardBefore, double rewardAfter) {
    }

    /** One sampled completion with everything PPO needs about it. */
    private record Rollout(int[] prompt, int[] completion, float[] oldLogprobs, float[] refLogprobs,
            float[] oldValues, float score, double[] advantages, double[] returns) {
        int[] tokens() {
            int[] all = Arrays.copyOf(prompt, prompt.length + completion.length);
            System.arraycopy(completion, 0, all, prompt.length, completion.length);
            return all;
        }
    }

    private final PpoConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;

    public PpoTrainer(PpoConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    public PpoTrainer stopAfter(int iteration) {
        this.stopAfter = iteration;
        return this;
    }

    /**
     * @param ptx pretraining text for the PPO-ptx term, tokenized with the policy's tokenizer; null when
     *     {@code gamma} is 0
     */
    public Outcome run(Path snapshot, Path sft, Path rewardModel, Path out, TokenStream ptx) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(sft);
        if (!Checkpoint.sameTokenizer(sft, rewardModel)) {
            throw new IllegalArgumentException(rewardModel + ": its tokenizer differs from the policy's (" + sft
                    + "); train the reward model from this SFT checkpoint");
        }
        if (config.gamma() > 0 && ptx == null) {
            throw new IllegalArgumentException("gamma > 0 (PPO-ptx) needs pretraining text");
        }
        int window = Checkpoint.readConfig(sft).maxPositions();
        // Prompts that leave no room to generate in the context window are left out.
        List<int[]> prompts = prompts(snapshot, "train", tokenizer).stream().filter(p -> p.length < window - 1).toList();
        List<int[]> evalPrompts = prompts(snapshot, "validation", tokenizer).stream()
                .filter(p -> p.length < window - 1).toList();
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no PPO training prompts");
        }
        if (evalPrompts.isEmpty()) {
            evalPrompts = prompts;
        }
        ModelConfig policyConfig = Checkpoint.readConfig(sft).withResidDropout(0.0);
        RunDirectory run = new RunDirectory(out);
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("sft", sft.toAbsolutePath().normalize().toString());
        configJson.put("reward_model", rewardModel.toAbsolutePath().normalize().toString());
        configJson.put("snapshot", snapshot.toAbsolutePath().normalize().toString());
        OptionalInt resumeAt = run.resumableStep(configJson, KIND);
        int start = resumeAt.orElse(0);
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                Decoder policy = Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
                Decoder reference = Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
                RewardModel reward = RewardModel.load(rewardModel, manager);
                RewardModel value = RewardModel.load(rewardModel, manager);
                AdamW policyOptimizer = config.policyOptimizer().newAdamW(manager);
                AdamW valueOptimizer = config.valueOptimizer().newAdamW(manager)) {
            List<String> metrics = new ArrayList<>();
            double beta = config.beta();
            if (resumeAt.isPresent()) {
                if (start >= config.iterations()) {
                    log.printf("%s already holds the finished run; nothing to do%n", out);
                    return new Outcome(List.of(), Double.NaN, Double.NaN);
                }
                metrics.addAll(run.restore(policy, null, start));
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
                log.printf("resuming %s at iteration %d of %d%n", out, start, config.iterations());
            }
            // The reference holds the SFT weights: the policy as it was before any iteration, resumed or not.
            double before = meanScore(reference, reward, tokenizer, evalPrompts, config.seed() ^ 0x5EED);
            policy.requireGradients();
            value.requireGradients();
            List<Stats> stats = new ArrayList<>();
            try (ProgressBar bar = RunDirectory.progressBar("ppo", config.iterations(), log)) {
                bar.stepTo(start);
                int it = start;
                while (it < config.iterations() && it < stopAfter) {
                    Stats s = iteration(it, beta, policy, reference, reward, value, policyOptimizer, valueOptimizer,
                            tokenizer, prompts, ptx);
                    if (config.klTarget() > 0) {
                        // Adaptive KL (Ziegler et al.): nudge beta towards the KL target.
                        double error = Math.max(-0.2, Math.min(0.2, s.kl() / config.klTarget() - 1));
                        beta *= 1 + 0.1 * error;
                    }
                    it++;
                    stats.add(s);
                    ObjectNode row = JSONL.valueToTree(s);
                    row.put("step", it);
                    row.put("beta_next", beta);
                    row.put("policy_optimizer_steps", policyOptimizer.stepCount());
                    row.put("value_optimizer_steps", valueOptimizer.stepCount());
                    metrics.add(JSONL.writeValueAsString(row));
                    bar.stepTo(it);
                    bar.setExtraMessage(String.format(" reward %.3f  KL %.3f", s.reward(), s.kl()));
                    run.save(policy, policyOptimizer, tokenizer, KIND, it, config.iterations(), configJson, metrics,
                            dir -> {
                                SafeTensors.write(dir.resolve(VALUE), value.toTensors(), Map.of());
                                SafeTensors.write(dir.resolve(VALUE_OPTIMIZER), valueOptimizer.stateTensors(), Map.of());
                            });
                }
                if (it < config.iterations()) {
                    return new Outcome(stats, before, Double.NaN);
                }
            }
            double after = meanScore(policy, reward, tokenizer, evalPrompts, config.seed() ^ 0x5EED);
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("kind", KIND);
            manifest.put("parent", sft.toAbsolutePath().normalize().toString());
            manifest.put("parent_weights_sha256", Checksums.sha256(sft.resolve(Checkpoint.WEIGHTS)));
            manifest.put("reward_model", rewardModel.toAbsolutePath().normalize().toString());
            manifest.put("data_snapshot", snapshot.toAbsolutePath().normalize().toString());
            manifest.set("hyper_parameters", JSON.valueToTree(config));
            manifest.putObject("metrics").put("reward_before", before).put("reward_after", after);
            run.save(policy, null, tokenizer, KIND, config.iterations(), config.iterations(), configJson, metrics,
                    dir -> JSON.writeValue(dir.resolve(MANIFEST).toFile(), manifest));
            log.printf("PPO done: mean reward %.3f -> %.3f; policy in %s%n", before, after, out);
            return new Outcome(stats, before, after);
        }
    }

    private Stats iteration(int it, double beta, Decoder policy, Decoder reference, RewardModel reward,
            RewardModel value, AdamW policyOptimizer, AdamW valueOptimizer, Tokenizer tokenizer, List<int[]> prompts,
            TokenStream ptx) {
        long t0 = System.nanoTime();
        List<int[]> batchPrompts = new ArrayList<>();
        for (int i = 0; i < config.rolloutsPerIteration(); i++) {
            batchPrompts.add(prompts.get((it * config.rolloutsPerIteration() + i) % prompts.size()));
        }
        // Temperature 1 and no filtering: the sampled tokens' log-probs are then the policy's own.
        SamplingParams sampling = new SamplingParams(config.maxNewTokens(), 1.0, 1.0, 0, List.of(),
                config.seed() * 1_000_003L + it * 7919L);
        List<Generation> gens = new Generator(policy, tokenizer).generate(batchPrompts, sampling);
        long t1 = System.nanoTime();
        List<Rollout> rollouts = new ArrayList<>();
        long generated = 0;
        List<int[]> seqs = new ArrayList<>();
        List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < gens.size(); i++) {
            int[] all = gens.get(i).sequence(batchPrompts.get(i), tokenizer.eosId());
            generated += all.length - batchPrompts.get(i).length;
            // Only rows that fit the window once more (the update feeds the whole sequence) take part.
            if (all.length > batchPrompts.get(i).length && all.length <= policy.config().maxPositions()) {
                keep.add(i);
                seqs.add(all);
            }
        }
        double sumScore = 0;
        double sumKl = 0;
        if (!seqs.isEmpty()) {
            float[][] oldLp;
            float[][] refLp;
            float[][] oldValues;
            float[] scores;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                PaddedBatch b = PaddedBatch.of(seqs, policy.manager());
                // The old log-probs come from the same right-padded forward the update uses.
                oldLp = PaddedBatch.rows(tokenLogprobs(policy, b, false));
                refLp = PaddedBatch.rows(tokenLogprobs(reference, b, false));
                oldValues = PaddedBatch.rows(value.values(b.ids(), b.positions(), b.mask()).get(new NDIndex(":, :-1")));
                scores = reward.rewards(b.ids(), b.positions(), b.mask()).toFloatArray();
            }
            for (int k = 0; k < seqs.size(); k++) {
                int[] p = batchPrompts.get(keep.get(k));
                int n = seqs.get(k).length - p.length;
                int[] completion = Arrays.copyOfRange(seqs.get(k), p.length, p.length + n);
                float[] old = Arrays.copyOfRange(oldLp[k], p.length - 1, p.length - 1 + n);
                float[] ref = Arrays.copyOfRange(refLp[k], p.length - 1, p.length - 1 + n);
                float[] vals = Arrays.copyOfRange(oldValues[k], p.length - 1, p.length - 1 + n);
                double[] rewards = new double[n];
                double kl = 0;
                for (int t = 0; t < n; t++) {
                    double klt = old[t] - ref[t];
                    kl += klt;
                    rewards[t] = -beta * klt;
                }
                rewards[n - 1] += scores[k];
                double[] v = new double[n];
                for (int t = 0; t < n; t++) {
                    v[t] = vals[t];
                }
                Gae.Result gae = Gae.compute(rewards, v, 0, config.discount(), config.lambda());
                rollouts.add(new Rollout(p, completion, old, ref, vals, scores[k], gae.advantages(), gae.returns()));
                sumScore += scores[k];
                sumKl += kl;
            }
        }
        whiten(rollouts);
        double[] lossStats = new double[4]; // entropy, clip fraction, value loss, ptx loss
        int updates = 0;
        for (int epoch = 0; epoch < config.ppoEpochs() && !rollouts.isEmpty(); epoch++) {
            for (int from = 0; from < rollouts.size(); from += config.minibatchSize()) {
                List<Rollout> mb = rollouts.subList(from, Math.min(rollouts.size(), from + config.minibatchSize()));
                double[] s = update(mb, policy, value, policyOptimizer, valueOptimizer, ptx, it * 1_000_003L + updates);
                for (int j = 0; j < 4; j++) {
                    lossStats[j] += s[j];
                }
                updates++;
            }
        }
        long t2 = System.nanoTime();
        int n = Math.max(1, rollouts.size());
        int u = Math.max(1, updates);
        return new Stats(it, sumScore / n, sumKl / n, lossStats[0] / u, lossStats[1] / u, lossStats[2] / u,
                lossStats[3] / u, generated / ((t1 - t0) / 1e9), (double) (t1 - t0) / (t2 - t0), beta);
    }

    /** One minibatch update of policy and value; returns entropy, clip fraction, value loss, ptx loss. */
    private double[] update(List<Rollout> mb, Decoder policy, RewardModel value, AdamW policyOptimizer,
            AdamW valueOptimizer, TokenStream ptx, long ptxStep) {
        NDManager m = policy.manager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            PaddedBatch b = PaddedBatch.of(mb.stream().map(Rollout::tokens).toList(), m);
            int w = b.width() - 1;
            float[] act = new float[mb.size() * w];
            float[] oldLp = new float[act.length];
            float[] adv = new float[act.length];
            float[] ret = new float[act.length];
            float[] oldV = new float[act.length];
            for (int r = 0; r < mb.size(); r++) {
                Rollout ro = mb.get(r);
                for (int t = 0; t < ro.completion().length; t++) {
                    int at = r * w + ro.prompt().length - 1 + t;
                    act[at] = 1;
                    oldLp[at] = ro.oldLogprobs()[t];
                    adv[at] = (float) ro.advantages()[t];
                    ret[at] = (float) ro.returns()[t];
                    oldV[at] = ro.oldValues()[t];
                }
            }
            Shape s = new Shape(mb.size(), w);
            NDArray mask = m.create(act, s);
            NDArray count = mask.sum();
            double[] out = new double[4];
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray logits = policy.forward(b.ids().get(new NDIndex(":, :-1")), b.positions().get(new NDIndex(":, :-1")),
                        b.mask().get(new NDIndex(":, :-1")), null, false);
                NDArray logp = logits.logSoftmax(-1);
                NDArray newLp = logp.gather(b.ids().get(new NDIndex(":, 1:")).expandDims(-1), -1).squeeze(-1);
                NDArray ratio = newLp.sub(m.create(oldLp, s)).exp();
                NDArray a = m.create(adv, s);
                NDArray pg1 = ratio.mul(a).neg();
                NDArray pg2 = ratio.clip((float) (1 - config.clipRange()), (float) (1 + config.clipRange())).mul(a).neg();
                NDArray pgLoss = pg1.maximum(pg2).mul(mask).sum().div(count);
                NDArray values = value.values(b.ids(), b.positions(), b.mask()).get(new NDIndex(":, :-1"));
                NDArray ov = m.create(oldV, s);
                NDArray r = m.create(ret, s);
                NDArray clipped = ov.add(values.sub(ov).clip((float) -config.valueClipRange(), (float) config.valueClipRange()));
                NDArray vLoss = values.sub(r).square().maximum(clipped.sub(r).square()).mul(mask).sum().div(count)
                        .mul(0.5f);
                NDArray total = pgLoss.add(vLoss);
                if (config.gamma() > 0) {
                    int seq = Math.min(policy.config().maxPositions() - 1, 64);
                    long[] windows = ptx.randomBatch(config.seed() + 17, ptxStep, config.ptxBatchSize(), seq);
                    NDArray all = m.create(windows, new Shape(config.ptxBatchSize(), seq + 1));
                    NDArray positions = m.arange(0, seq, 1, DataType.INT64).reshape(1, seq)
                            .repeat(0, config.ptxBatchSize());
                    NDArray ptxLogits = policy.forward(all.get(new NDIndex(":, :-1")), positions, null, null, false);
                    NDArray ptxLoss = LanguageModelLoss.crossEntropy(ptxLogits, all.get(new NDIndex(":, 1:")), null);
                    total = total.add(ptxLoss.mul((float) config.gamma()));
                    out[3] = ptxLoss.getFloat();
                }
                gc.backward(total);
                NDArray probs = logp.exp();
                out[0] = probs.mul(logp).sum(new int[] {-1}).neg().mul(mask).sum().div(count).getFloat();
                out[1] = ratio.sub(1f).abs().gt((float) config.clipRange()).toType(DataType.FLOAT32, false).mul(mask).sum()
                        .div(count).getFloat();
                out[2] = vLoss.getFloat();
            }
            AdamW.clipGradients(policy.parameters(), config.policyOptimizer().gradClip());
            AdamW.clipGradients(value.parameters(), config.valueOptimizer().gradClip());
            policyOptimizer.step(policy.parameters(), config.policyOptimizer().lr());
            valueOptimizer.step(value.parameters(), config.valueOptimizer().lr());
            return out;
        }
    }

    /** Mean reward-model score of one sampled completion per prompt (a fixed seed, so runs compare). */
    private double meanScore(Decoder model, RewardModel reward, Tokenizer tokenizer, List<int[]> prompts, long seed) {
        double sum = 0;
        int chunk = config.rolloutsPerIteration();
        for (int from = 0; from < prompts.size(); from += chunk) {
            List<int[]> part = prompts.subList(from, Math.min(prompts.size(), from + chunk));
            SamplingParams sampling = new SamplingParams(config.maxNewTokens(), 1.0, 1.0, 0, List.of(), seed + from);
            List<Generation> gens = new Generator(model, tokenizer).generate(part, sampling);
            List<int[]> seqs = new ArrayList<>();
            for (int i = 0; i < gens.size(); i++) {
                seqs.add(gens.get(i).sequence(part.get(i), tokenizer.eosId()));
            }
            for (float x : reward.scores(seqs)) {
                sum += x;
            }
        }
        return sum / prompts.size();
    }

    private static void whiten(List<Rollout> rollouts) {
        int total = rollouts.stream().mapToInt(r -> r.advantages().length).sum();
        if (total < 2) {
            return;
        }
        double[] all = new double[total];
        int at = 0;
        for (Rollout r : rollouts) {
            System.arraycopy(r.advantages(), 0, all, at, r.advantages().length);
            at += r.advantages().length;
        }
        double[] w = Gae.whiten(all);
        at = 0;
        for (Rollout r : rollouts) {
            System.arraycopy(w, at, r.advantages(), 0, r.advantages().length);
            at += r.advantages().length;
        }
    }

    /** Log-probability of each next token: [B, W-1]. */
    private static NDArray tokenLogprobs(Decoder model, PaddedBatch b, boolean training) {
        NDArray logits = model.forward(b.ids().get(new NDIndex(":, :-1")), b.positions().get(new NDIndex(":, :-1")),
                b.mask().get(new NDIndex(":, :-1")), null, training);
        return logits.logSoftmax(-1).gather(b.ids().get(new NDIndex(":, 1:")).expandDims(-1), -1).squeeze(-1);
    }

    private static List<int[]> prompts(Path snapshot, String split, Tokenizer tokenizer) throws IOException {
        Path file = snapshot.resolve("ppo." + split + ".jsonl");
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(snapshot + " is not a dataset snapshot (no " + file.getFileName() + ")");
        }
        List<int[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                JsonNode row = JSONL.readTree(line);
                out.add(tokenizer.encode(row.get("prompt").asText(), true));
            }
        }
        return out;
    }
}
