package io.rlhf4j.demo;

import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.JudgeProvider;
import io.rlhf4j.trainer.generate.Generation;
import java.util.List;

/**
 * The demo world's gold preference as a judge ({@code eval.judge: gold}): correctness against WordNet
 * plus style, without the simulated labelers' noise. Every prompt must be one of the world's tasks.
 */
public final class GoldJudge implements Judge {

    public static final String NAME = "gold";

    private final DemoWorld world;

    public GoldJudge(DemoWorld world) {
        this.world = world;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double[] score(List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId) {
        double[] out = new double[prompts.size()];
        for (int i = 0; i < out.length; i++) {
            String p = prompts.get(i);
            Task t = world.parse(p)
                    .orElseThrow(() -> new IllegalArgumentException("prompt '" + p
                            + "' is not a demo-world task, so the gold judge cannot score it; use judge rm"));
            out[i] = world.gold(t, completions.get(i).text());
        }
        return out;
    }

    /** Found by {@link Judge#named}; registered in {@code META-INF/services}. */
    public static final class Provider implements JudgeProvider {
        @Override
        public String name() {
            return NAME;
        }

        @Override
        public Judge open(List<String> prompts) {
            DemoWorld world = DemoWorld.load();
            if (!prompts.stream().allMatch(p -> world.parse(p).isPresent())) {
                throw new IllegalArgumentException(
                        "judge gold needs demo-world tasks, and not every test prompt is " + "one; use judge rm");
            }
            return new GoldJudge(world);
        }
    }
}
