package io.rlhf4j.core.loop;

import java.util.List;

/**
 * The stages of a training run's pipeline as both processes name them: the child writes each one's
 * checkpoint and {@code metrics.jsonl} under the run's pipeline directory by these names, and reports
 * them as {@link PipelineProgress#stage()}; the server reads the metrics back for the console.
 */
public final class PipelineStages {

    public static final String SFT = "sft";
    public static final String RM = "rm";
    public static final String EVAL = "eval";

    /** The stages that can make the candidate from SFT: PPO(-ptx), DPO, RLOO. */
    public static final List<String> POLICIES = List.of("ppo", "dpo", "rloo");

    /** Every stage directory a run can have, in the order the pipeline runs them. */
    public static final List<String> ALL = List.of(SFT, RM, "ppo", "dpo", "rloo", EVAL);

    private PipelineStages() {}
}
