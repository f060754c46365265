package io.rlhf4j.serving.loop;

import io.rlhf4j.core.loop.PipelineLauncher;
import io.rlhf4j.core.loop.SplitPolicy;
import java.nio.file.Path;

/**
 * How this server trains; built by name ({@link #enabled}, then {@code with...}).
 *
 * @param launcher starts the pipeline's process; null disables training on this server
 * @param baseModel the checkpoint each run's SFT starts from
 * @param everyJudgements start a run after this many new rankings and demonstrations; 0 only on demand
 * @param autoPromote promote a candidate that passes its gate
 * @param trainingThreads threads the child may use
 * @param maxAttempts how often a run interrupted by restarts is resumed before it is marked failed
 * @param split how users are split: the labeling queue and every run's snapshot use the same
 * @param heldOutLabelers rankings by labelers whose id starts with this are held out of RM training
 */
public record LoopOptions(
        PipelineLauncher launcher,
        Path baseModel,
        int everyJudgements,
        boolean autoPromote,
        int trainingThreads,
        int maxAttempts,
        SplitPolicy split,
        String heldOutLabelers) {
    public LoopOptions {
        split = split == null ? SplitPolicy.DEFAULT : split;
        heldOutLabelers = heldOutLabelers == null ? "" : heldOutLabelers;
        if (launcher != null && baseModel == null) {
            throw new IllegalArgumentException("a training loop needs a base model");
        }
    }

    public static LoopOptions disabled() {
        return new LoopOptions(null, null, 0, false, 1, 2, SplitPolicy.DEFAULT, "");
    }

    /** Training on demand, one thread, no auto-promotion, two attempts per run. */
    public static LoopOptions enabled(PipelineLauncher launcher, Path baseModel) {
        return new LoopOptions(launcher, baseModel, 0, false, 1, 2, SplitPolicy.DEFAULT, "");
    }

    public LoopOptions withEveryJudgements(int n) {
        return new LoopOptions(
                launcher, baseModel, n, autoPromote, trainingThreads, maxAttempts, split, heldOutLabelers);
    }

    public LoopOptions withAutoPromote(boolean on) {
        return new LoopOptions(
                launcher, baseModel, everyJudgements, on, trainingThreads, maxAttempts, split, heldOutLabelers);
    }

    public LoopOptions withTrainingThreads(int n) {
        return new LoopOptions(
                launcher, baseModel, everyJudgements, autoPromote, n, maxAttempts, split, heldOutLabelers);
    }

    public LoopOptions withMaxAttempts(int n) {
        return new LoopOptions(
                launcher, baseModel, everyJudgements, autoPromote, trainingThreads, n, split, heldOutLabelers);
    }

    public LoopOptions withBaseModel(Path dir) {
        return new LoopOptions(
                launcher, dir, everyJudgements, autoPromote, trainingThreads, maxAttempts, split, heldOutLabelers);
    }

    public LoopOptions withLauncher(PipelineLauncher l) {
        return new LoopOptions(
                l, baseModel, everyJudgements, autoPromote, trainingThreads, maxAttempts, split, heldOutLabelers);
    }

    public LoopOptions withHeldOutLabelers(String prefix) {
        return new LoopOptions(
                launcher, baseModel, everyJudgements, autoPromote, trainingThreads, maxAttempts, split, prefix);
    }

    public boolean enabled() {
        return launcher != null;
    }
}
