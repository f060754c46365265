package io.rlhf4j.trainer.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.trainer.eval.AlignmentTax;
import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.WinRate;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.run.RunDirectory;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * PPO-ptx, DPO and RLOO from one snapshot, side by side, as InstructGPT compares ways of using the same
 * human data: one SFT model and one reward model, then each policy stage from that SFT, each judged
 * against SFT, the base model and each other on the snapshot's held-out test prompts, with its alignment
 * tax (pretraining loss above SFT's), wall time and training tokens per second.
 */
public final class PolicyComparison {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PolicyComparison() {}

    /**
     * Trains under {@code out} ({@code sft}, {@code rm}, one directory per policy; each resumes, or is
     * kept if already finished, and then reported with {@code kept} instead of its time) and returns the
     * table.
     */
    public static ObjectNode run(
            PipelineConfig config, List<String> policies, Path snapshot, Path base, Path out, PrintStream log)
            throws IOException {
        for (String p : policies) {
            if (!PipelineConfig.POLICIES.contains(p)) {
                throw new IllegalArgumentException("no policy stage called '" + p + "' (known: "
                        + String.join(", ", PipelineConfig.POLICIES) + ")");
            }
        }
        if (policies.isEmpty()) {
            throw new IllegalArgumentException("name at least one policy stage to compare");
        }
        List<String> prompts = Pipeline.testPrompts(snapshot, config.eval().testPrompts());
        Files.createDirectories(out);
        Pipeline pipeline = new Pipeline(config, log, (stage, done) -> {});
        Path sft = pipeline.sft(snapshot, base, out, null);
        Path rm = out.resolve("rm");
        RewardTrainer.Outcome rmOutcome = pipeline.rewardModel(snapshot, sft, rm);
        List<Pipeline.PolicyRun> runs = new ArrayList<>();
        // A stage an earlier comparison finished is kept as it is: its time here measures nothing.
        List<String> kept = new ArrayList<>();
        for (String p : policies) {
            if (Files.exists(out.resolve(p).resolve(Layout.TRAINING_MANIFEST))) {
                kept.add(p);
            }
            runs.add(pipeline.policy(p, snapshot, sft, rm, out));
        }

        ObjectNode table = JSON.createObjectNode();
        table.put("snapshot", snapshot.toString());
        table.put("sft", sft.toString());
        table.put("reward_model", rm.toString());
        if (rmOutcome.after() != null) {
            table.put("rm_accuracy_validation", rmOutcome.after().accuracy());
        }
        double sftLoss = AlignmentTax.pretrainingLoss(sft, 8);
        table.put("pretraining_loss_base", AlignmentTax.pretrainingLoss(base, 8));
        table.put("pretraining_loss_sft", sftLoss);
        WinRate.Options sampling = new WinRate.Options(
                config.eval().maxNewTokens(),
                config.eval().temperature(),
                config.eval().seed(),
                16);
        ArrayNode rows = table.putArray("policies");
        ArrayNode headToHead = table.putArray("head_to_head");
        try (Judge judge = Judge.named(config.eval().judge(), prompts, rm, sft)) {
            // Each model's answers once: SFT (0), the base (1), then the stages in order (2...).
            List<Path> models = new ArrayList<>(List.of(sft, base));
            runs.forEach(r -> models.add(r.dir()));
            WinRate.Table wins = WinRate.table(models, prompts, judge, sampling);
            table.put("judge", judge.name());
            for (int i = 0; i < runs.size(); i++) {
                Pipeline.PolicyRun r = runs.get(i);
                WinRate.Result vsSft = wins.between(2 + i, 0);
                table.put("n", vsSft.n());
                ObjectNode row = rows.addObject();
                row.put("policy", r.name());
                row.put("dir", r.dir().toString());
                row.put("win_rate_vs_sft", vsSft.winRate());
                row.put("win_rate_vs_base", wins.between(2 + i, 1).winRate());
                row.put("wins_vs_sft", vsSft.wins());
                row.put("ties_vs_sft", vsSft.ties());
                row.put("losses_vs_sft", vsSft.losses());
                row.put("mean_score", vsSft.meanA());
                double loss = AlignmentTax.pretrainingLoss(r.dir(), 8);
                row.put("pretraining_loss", loss);
                row.put("alignment_tax", loss - sftLoss);
                long tokens = trainedTokens(r.dir());
                row.put("trained_tokens", tokens);
                if (kept.contains(r.name())) {
                    row.put("kept", true);
                } else {
                    row.put("seconds", r.seconds());
                    row.put("tokens_per_second", tokens / r.seconds());
                }
                if (!Double.isNaN(r.rewardAfter())) {
                    row.put("reward_before", r.rewardBefore());
                    row.put("reward_after", r.rewardAfter());
                }
                for (int j = i + 1; j < runs.size(); j++) {
                    WinRate.Result h = wins.between(2 + i, 2 + j);
                    headToHead
                            .addObject()
                            .put("a", r.name())
                            .put("b", runs.get(j).name())
                            .put("win_rate", h.winRate())
                            .put("wins", h.wins())
                            .put("ties", h.ties())
                            .put("losses", h.losses());
                }
            }
        }
        return table;
    }

    /** The tokens a stage's policy trained on, summed over its metrics rows. */
    static long trainedTokens(Path run) throws IOException {
        long sum = 0;
        for (String line : Files.readAllLines(run.resolve(RunDirectory.METRICS), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                JsonNode row = JSON.readTree(line);
                sum += row.path("trained_tokens").asLong(0);
            }
        }
        return sum;
    }
}
