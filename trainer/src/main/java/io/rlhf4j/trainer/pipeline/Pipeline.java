package io.rlhf4j.trainer.pipeline;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.eval.AlignmentTax;
import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.WinRate;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.rm.RankedExample;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.sft.SftTrainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * InstructGPT's three steps on one data snapshot, then the evaluation gate: SFT from the base model,
 * the reward model from the SFT trunk, PPO(-ptx) from SFT against that reward model, and the
 * candidate's win rate against the active version on the snapshot's held-out test prompts plus its
 * pretraining-loss change. Each stage writes its checkpoint directory under {@code out} and resumes
 * there after an interruption; the gate goes into the candidate's directory as {@code gate.json}, so
 * its export carries it into the registry.
 */
public final class Pipeline {

    public static final String GATE = Layout.GATE;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /** Where the stages put their checkpoints, and the gate's verdict. */
    public record Result(Path sft, Path rm, Path candidate, ObjectNode gate) {}

    private final PipelineConfig config;
    private final PrintStream log;
    private final BiConsumer<String, Double> progress;

    /** @param progress told each stage's name and the whole run's fraction done */
    public Pipeline(PipelineConfig config, PrintStream log, BiConsumer<String, Double> progress) {
        this.config = config;
        this.log = log;
        this.progress = progress;
    }

    /**
     * @param against the active version's checkpoint to beat, or null (the SFT model is then the bar)
     * @param selectionRm a reward model from an earlier run to select the SFT checkpoint by, or null
     */
    public Result run(Path snapshot, Path base, Path out, Path against, Path selectionRm) throws IOException {
        Files.createDirectories(out);
        Path sft = out.resolve("sft");
        Path rm = out.resolve("rm");
        Path ppo = out.resolve("ppo");

        progress.accept("sft", 0.0);
        SftTrainer sftTrainer = new SftTrainer(config.sft(), log);
        if (selectionRm != null && Checkpoint.sameTokenizer(selectionRm, base)) {
            sftTrainer.selectByReward(selectionRm);
        }
        sftTrainer.run(snapshot, base, sft);

        progress.accept("rm", 0.25);
        RewardTrainer.Outcome rmOutcome = new RewardTrainer(config.rm(), log).run(snapshot, sft, rm);

        progress.accept("ppo", 0.45);
        TokenStream ptx = null;
        if (config.ppo().gamma() > 0) {
            log.println("loading WordNet pretraining text for the PPO-ptx term");
            ptx = TokenStream.of(WordNetCorpus.load(2).train(), Checkpoint.readTokenizer(sft));
        }
        PpoTrainer.Outcome ppoOutcome = new PpoTrainer(config.ppo(), log).run(snapshot, sft, rm, ppo, ptx);

        progress.accept("evaluate", 0.85);
        // A reward model judges best when PPO did not optimise against it: an earlier run's, when there is one.
        Path judgeRm = selectionRm != null && Checkpoint.sameTokenizer(selectionRm, ppo) ? selectionRm : rm;
        ObjectNode gate = evaluate(snapshot, base, sft, rm, judgeRm, ppo, against, rmOutcome, ppoOutcome);
        JSON.writeValue(ppo.resolve(GATE).toFile(), gate);
        Path evalDir = Files.createDirectories(out.resolve("eval"));
        ObjectNode row = JSONL.createObjectNode().put("step", 1);
        row.set("win_rate", gate.get("win_rate"));
        row.set("win_rate_vs_sft", gate.get("win_rate_vs_sft"));
        row.set("alignment_tax", gate.get("alignment_tax"));
        Files.writeString(
                evalDir.resolve("metrics.jsonl"), JSONL.writeValueAsString(row) + "\n", StandardCharsets.UTF_8);
        log.printf(
                "gate %s: win rate %.3f against %s (n = %d, judge %s), pretraining loss %.3f -> %.3f%n",
                gate.get("passed").asBoolean() ? "passed" : "FAILED",
                gate.get("win_rate").asDouble(),
                gate.get("against").asText(),
                gate.get("n").asInt(),
                gate.get("judge").asText(),
                gate.get("pretraining_loss_before").asDouble(),
                gate.get("pretraining_loss_after").asDouble());
        progress.accept("evaluate", 0.9);
        return new Result(sft, rm, ppo, gate);
    }

    private ObjectNode evaluate(
            Path snapshot,
            Path base,
            Path sft,
            Path rm,
            Path judgeRm,
            Path ppo,
            Path against,
            RewardTrainer.Outcome rmOutcome,
            PpoTrainer.Outcome ppoOutcome)
            throws IOException {
        PipelineConfig.Eval e = config.eval();
        List<String> prompts = testPrompts(snapshot, e.testPrompts());
        WinRate.Options sampling = new WinRate.Options(e.maxNewTokens(), e.temperature(), e.seed(), 16);
        ObjectNode gate = JSON.createObjectNode();
        Path bar = against != null ? against : sft;
        try (Judge judge = Judge.named(e.judge(), prompts, judgeRm, ppo)) {
            List<WinRate.Result> results =
                    WinRate.evaluate(ppo, bar.equals(sft) ? List.of(bar) : List.of(bar, sft), prompts, judge, sampling);
            WinRate.Result vsActive = results.get(0);
            WinRate.Result vsSft = results.get(results.size() - 1);
            gate.put("judge", judge.name());
            gate.put("against", against != null ? against.toString() : "sft");
            gate.put("n", vsActive.n());
            gate.put("win_rate", vsActive.winRate());
            gate.put("wins", vsActive.wins());
            gate.put("ties", vsActive.ties());
            gate.put("losses", vsActive.losses());
            gate.put("mean_score_candidate", vsActive.meanA());
            gate.put("mean_score_against", vsActive.meanB());
            gate.put("win_rate_vs_sft", vsSft.winRate());
        }
        double before = AlignmentTax.pretrainingLoss(base, 8);
        double after = AlignmentTax.pretrainingLoss(ppo, 8);
        gate.put("pretraining_loss_before", before);
        gate.put("pretraining_loss_after", after);
        gate.put("alignment_tax", after - before);
        if (rmOutcome.after() != null) {
            gate.put("rm_accuracy_validation", rmOutcome.after().accuracy());
        }
        double heldOut = heldOutAccuracy(snapshot, rm);
        if (!Double.isNaN(heldOut)) {
            gate.put("rm_accuracy_heldout_labelers", heldOut);
        }
        gate.put("ppo_reward_before", ppoOutcome.rewardBefore());
        gate.put("ppo_reward_after", ppoOutcome.rewardAfter());
        // Strictly above: a candidate that only ties the version it would replace is no reason to swap.
        boolean winOk = gate.get("win_rate").asDouble() > e.minWinRate();
        boolean taxOk = after - before <= e.maxPretrainingLossIncrease();
        gate.put("passed", winOk && taxOk);
        gate.put(
                "reason",
                winOk && taxOk
                        ? "passed"
                        : !winOk
                                ? String.format(
                                        "win rate %.3f is not above %.3f",
                                        gate.get("win_rate").asDouble(), e.minWinRate())
                                : String.format(
                                        "pretraining loss rose by %.3f, more than %.3f",
                                        after - before, e.maxPretrainingLossIncrease()));
        gate.put("min_win_rate", e.minWinRate());
        return gate;
    }

    /** Pair accuracy of the reward model on the held-out labelers' rankings, NaN when there are none. */
    public static double heldOutAccuracy(Path snapshot, Path rm) throws IOException {
        if (!Files.exists(snapshot.resolve("rm.heldout.jsonl"))) {
            return Double.NaN;
        }
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                RewardModel model = RewardModel.load(rm, manager)) {
            List<RankedExample> examples = RankedExample.load(
                    snapshot,
                    "heldout",
                    Checkpoint.readTokenizer(rm),
                    model.trunk().config().maxPositions());
            return examples.isEmpty()
                    ? Double.NaN
                    : RewardTrainer.evaluate(model, examples).accuracy();
        }
    }

    /** The snapshot's held-out test prompts, every set's, in file order. */
    public static List<String> testPrompts(Path snapshot, int limit) throws IOException {
        List<String> out = new ArrayList<>();
        for (String set : List.of("ppo", "rm", "sft")) {
            Path f = snapshot.resolve(set + ".test.jsonl");
            if (!Files.exists(f)) {
                continue;
            }
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (!line.isBlank() && out.size() < limit) {
                    JsonNode row = JSONL.readTree(line);
                    out.add(row.get("prompt").asText());
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no test prompts (the test split is empty); collect "
                    + "prompts from more users, then rebuild the snapshot");
        }
        return out;
    }
}
