package io.rlhf4j.trainer.bench;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.pretrain.CausalLmStep;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Throughput of the trainer's model on this machine: training tokens/s (forward, backward and an
 * AdamW step) and KV-cache generation tokens/s at batch 1 and 8. Figures, not pass/fail: the
 * {@code bench} command prints them.
 */
public final class ModelBenchmark {

    // Pretraining's settings at a fixed small learning rate: the figure is speed, not progress.
    private static final OptimizerConfig TRAINING = OptimizerConfig.adamW(1e-4, 0.1, 1.0);

    /** One model's figures. */
    public record Figures(
            String model, long parameters, double trainTokensPerSecond, double generateBatch1, double generateBatch8) {}

    private final PrintStream out;

    public ModelBenchmark(PrintStream out) {
        this.out = out;
    }

    /**
     * @param trainRows rows per training batch; {@code trainSeq} tokens per row
     * @param newTokens tokens generated per sequence (EOS ignored so every run has the same length)
     */
    public Figures run(
            String name,
            Decoder model,
            Tokenizer tokenizer,
            int trainRows,
            int trainSeq,
            int trainSteps,
            int newTokens) {
        ModelConfig c = model.config();
        out.printf(
                "%s: %,d parameters, %d layers, width %d, vocab %d%n",
                name, c.parameterCount(), c.numLayers(), c.hiddenSize(), c.vocabSize());
        double gen1 = generation(model, tokenizer, 1, newTokens);
        out.printf("  generate  batch 1: %10.1f tokens/s%n", gen1);
        double gen8 = generation(model, tokenizer, 8, newTokens);
        out.printf("  generate  batch 8: %10.1f tokens/s%n", gen8);
        double train = training(model, trainRows, trainSeq, trainSteps);
        out.printf("  train %dx%d: %10.1f tokens/s (forward + backward + AdamW)%n", trainRows, trainSeq, train);
        return new Figures(name, c.parameterCount(), train, gen1, gen8);
    }

    private static double generation(Decoder model, Tokenizer tokenizer, int batch, int newTokens) {
        Generator generator = new Generator(model, tokenizer);
        SplittableRandom rng = new SplittableRandom(7);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] p = new int[8];
            for (int j = 0; j < p.length; j++) {
                p[j] = 3 + rng.nextInt(model.config().vocabSize() - 3);
            }
            prompts.add(p);
        }
        SamplingParams params = SamplingParams.greedy(newTokens).withIgnoreEos(true);
        generator.generate(prompts, SamplingParams.greedy(4).withIgnoreEos(true)); // warm-up
        long t0 = System.nanoTime();
        int produced = generator.generate(prompts, params).stream()
                .mapToInt(g -> g.tokens().length)
                .sum();
        return produced / ((System.nanoTime() - t0) / 1e9);
    }

    private static double training(Decoder model, int rows, int seq, int steps) {
        try (NDManager m = model.manager().newSubManager();
                AdamW optimizer = TRAINING.newAdamW(m)) {
            CausalLmStep step = new CausalLmStep(model, optimizer, TRAINING.gradClip());
            SplittableRandom rng = new SplittableRandom(11);
            long[] batch = new long[rows * (seq + 1)];
            for (int i = 0; i < batch.length; i++) {
                batch[i] = rng.nextInt(model.config().vocabSize());
            }
            step.step(batch, rows, seq, TRAINING.lr()); // warm-up
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                step.step(batch, rows, seq, TRAINING.lr());
            }
            return (double) rows * seq * steps / ((System.nanoTime() - t0) / 1e9);
        }
    }
}
