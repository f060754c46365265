package io.rlhf4j.trainer.pipeline;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.loop.PipelineStages;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.dpo.DpoTrainer;
import io.rlhf4j.trainer.eval.AlignmentTax;
import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.WinRate;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.rloo.RlooTrainer;
import io.rlhf4j.trainer.rm.RankedExample;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.run.TrainingDevice;
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
 * the reward model from the SFT trunk, PPO(-ptx) from SFT against that reward model (or, as the config's
 * {@code policy} says, DPO on the same rankings or RLOO against the same reward model), and the
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
    private TokenStream ptxText;

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
        return run(snapshot, base, out, against, selectionRm, null);
    }

    /**
     * As {@link #run(Path, Path, Path, Path, Path)}, judging the candidate against the loop's first SFT
     * model too ({@code win_rate_vs_first_sft}); null when this run's own SFT model is the first.
     */
    public Result run(Path snapshot, Path base, Path out, Path against, Path selectionRm, Path firstSft)
            throws IOException {
        Files.createDirectories(out);
        progress.accept(PipelineStages.SFT, 0.0);
        Path sft = sft(snapshot, base, out, selectionRm);
        progress.accept(PipelineStages.RM, 0.25);
        Path rm = out.resolve(PipelineStages.RM);
        RewardTrainer.Outcome rmOutcome = rewardModel(snapshot, sft, rm);
        progress.accept(config.policy(), 0.45);
        PolicyRun policyRun = policy(config.policy(), snapshot, sft, rm, out);
        Path candidate = policyRun.dir();
        progress.accept("evaluate", 0.85);
        // A reward model judges best when PPO did not optimise against it: an earlier run's, when there is one.
        Path judgeRm = selectionRm != null && Checkpoint.sameTokenizer(selectionRm, candidate) ? selectionRm : rm;
        ObjectNode gate =
                evaluate(snapshot, base, sft, rm, judgeRm, candidate, against, firstSft, rmOutcome, policyRun);
        JSON.writeValue(candidate.resolve(GATE).toFile(), gate);
        Path evalDir = Files.createDirectories(out.resolve(PipelineStages.EVAL));
        ObjectNode row = JSONL.createObjectNode().put("step", 1);
        row.set("win_rate", gate.get("win_rate"));
        row.set("win_rate_vs_sft", gate.get("win_rate_vs_sft"));
        row.set("win_rate_vs_base", gate.get("win_rate_vs_base"));
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
        return new Result(sft, rm, candidate, gate);
    }

    /**
     * A policy stage's result: its checkpoint, the reward model's mean score of samples before and after
     * (NaN where the stage does not sample: DPO), and its wall time.
     */
    public record PolicyRun(String name, Path dir, double rewardBefore, double rewardAfter, double seconds) {}

    /** SFT from {@code base} into {@code out/sft}, selecting by an earlier reward model when one is given. */
    public Path sft(Path snapshot, Path base, Path out, Path selectionRm) throws IOException {
        Path sft = out.resolve(PipelineStages.SFT);
        SftTrainer sftTrainer =
                new SftTrainer(config.sft(), log).withLora(config.lora().config());
        if (selectionRm != null && Checkpoint.sameTokenizer(selectionRm, base)) {
            sftTrainer.selectByReward(selectionRm);
        }
        sftTrainer.run(snapshot, base, sft);
        return sft;
    }

    /** The reward model from SFT's trunk into {@code rm} (a LoRA adapter and the head when configured). */
    public RewardTrainer.Outcome rewardModel(Path snapshot, Path sft, Path rm) throws IOException {
        return new RewardTrainer(config.rm(), log)
                .withLora(config.lora().config())
                .run(snapshot, sft, rm);
    }

    /** The policy stage {@code name} ({@link PipelineConfig#POLICIES}) from SFT into {@code out/<name>}. */
    public PolicyRun policy(String name, Path snapshot, Path sft, Path rm, Path out) throws IOException {
        Path dir = out.resolve(name);
        long t0 = System.nanoTime();
        double before = Double.NaN;
        double after = Double.NaN;
        switch (name) {
            case "ppo" -> {
                PpoTrainer.Outcome o = new PpoTrainer(config.ppo(), log)
                        .withLora(config.lora().config())
                        .run(
                                snapshot,
                                sft,
                                rm,
                                dir,
                                pretrainingText(config.ppo().gamma(), sft));
                before = o.rewardBefore();
                after = o.rewardAfter();
            }
            case "dpo" ->
                new DpoTrainer(config.dpo(), log)
                        .withLora(config.lora().config())
                        .run(snapshot, sft, dir, pretrainingText(config.dpo().gamma(), sft));
            case "rloo" -> {
                RlooTrainer.Outcome o = new RlooTrainer(config.rloo(), log)
                        .withLora(config.lora().config())
                        .run(
                                snapshot,
                                sft,
                                rm,
                                dir,
                                pretrainingText(config.rloo().gamma(), sft));
                before = o.rewardBefore();
                after = o.rewardAfter();
            }
            default -> throw new IllegalArgumentException("no policy stage called '" + name + "'");
        }
        return new PolicyRun(name, dir, before, after, (System.nanoTime() - t0) / 1e9);
    }

    /** WordNet's text (what the demo base was pretrained on) for a stage's pretraining term, when it has one. */
    private TokenStream pretrainingText(double gamma, Path policy) throws IOException {
        if (gamma <= 0) {
            return null;
        }
        if (ptxText == null) {
            log.println("loading WordNet pretraining text for the pretraining (ptx) term");
            ptxText = WordNetCorpus.pretrainingText(Checkpoint.readTokenizer(policy));
        }
        return ptxText;
    }

    private ObjectNode evaluate(
            Path snapshot,
            Path base,
            Path sft,
            Path rm,
            Path judgeRm,
            Path candidate,
            Path against,
            Path firstSft,
            RewardTrainer.Outcome rmOutcome,
            PolicyRun policyRun)
            throws IOException {
        PipelineConfig.Eval e = config.eval();
        List<String> prompts = testPrompts(snapshot, e.testPrompts());
        WinRate.Options sampling = new WinRate.Options(e.maxNewTokens(), e.temperature(), e.seed(), 16);
        ObjectNode gate = JSON.createObjectNode();
        Path bar = against != null ? against : sft;
        try (Judge judge = Judge.named(e.judge(), prompts, judgeRm, candidate)) {
            // The base model too: the paper's other yardstick (InstructGPT against the prompted GPT-3); and
            // the loop's first SFT model, the baseline later turns are measured from (this run's own SFT
            // when it is the first). Each distinct model is judged once.
            Path first = firstSft != null ? firstSft : sft;
            List<Path> others = List.copyOf(new java.util.LinkedHashSet<>(List.of(bar, sft, base, first)));
            List<WinRate.Result> results = WinRate.evaluate(candidate, others, prompts, judge, sampling);
            WinRate.Result vsActive = results.get(others.indexOf(bar));
            WinRate.Result vsSft = results.get(others.indexOf(sft));
            WinRate.Result vsBase = results.get(others.indexOf(base));
            WinRate.Result vsFirstSft = results.get(others.indexOf(first));
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
            gate.put("win_rate_vs_base", vsBase.winRate());
            gate.put("win_rate_vs_first_sft", vsFirstSft.winRate());
        }
        double before = AlignmentTax.pretrainingLoss(base, 8);
        double after = AlignmentTax.pretrainingLoss(candidate, 8);
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
        gate.put("policy", policyRun.name());
        if (!Double.isNaN(policyRun.rewardAfter())) {
            gate.put("policy_reward_before", policyRun.rewardBefore());
            gate.put("policy_reward_after", policyRun.rewardAfter());
        }
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
        try (NDManager manager = TrainingDevice.newManager();
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
