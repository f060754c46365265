package io.rlhf4j.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.trainer.data.DatasetBuilder;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.eval.AlignmentTax;
import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.WinRate;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.pipeline.Pipeline;
import io.rlhf4j.trainer.pipeline.PipelineConfig;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.sft.SftTrainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The InstructGPT recipe works on the demo world, end to end and seeded: simulated users and
 * labelers fill a real store, the dataset builder holds one labeler group out, and SFT, the reward
 * model, PPO and PPO-ptx train from the bundled demo base model. What the paper shows, in miniature:
 * the reward model generalises to labelers it never saw, PPO raises the reward and beats SFT by the
 * gold labelers' judgement, and the pretraining mix lowers the alignment tax.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DemoWorldPipelineTest {

    static final Path BASE = Path.of("..", "demo", "base-model");
    /** The pipeline's {@code lora: {rank: 16}} (alpha 16, every projection). */
    static final LoraConfig LORA = new LoraConfig(16, 16, 0.0, List.copyOf(LoraConfig.MODULES.keySet()));

    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @TempDir
    static Path tmp;

    Path snapshot;
    Path sft;
    Path rm;
    RewardTrainer.Outcome rmOutcome;
    PpoTrainer.Outcome ppoOutcome;
    Path ppo;
    Path ppoPtx;
    PpoTrainer.Outcome loraOutcome;
    Path loraPpoPtx;

    @BeforeAll
    void trainTheWholePipeline() throws Exception {
        DemoWorld world = DemoWorld.load();
        try (Store store = Store.openSqlite(tmp.resolve("data"))) {
            Simulation.populate(store, world, BASE, new Simulation.Options(150, 900, 350, 400, 4, 24, 11), QUIET);
            ObjectNode manifest = DatasetBuilder.build(
                    store,
                    tmp.resolve("snapshots"),
                    DatasetBuilder.Options.defaults().withHeldOutLabelers(Labelers.HELD_OUT_PREFIX));
            snapshot = tmp.resolve("snapshots").resolve(manifest.get("id").asText());
        }
        PipelineConfig c = PipelineConfig.defaults();
        sft = tmp.resolve("sft");
        new SftTrainer(c.sft(), QUIET).run(snapshot, BASE, sft);
        rm = tmp.resolve("rm");
        rmOutcome = new RewardTrainer(c.rm(), QUIET).run(snapshot, sft, rm);
        PpoConfig p = c.ppo();
        ppo = tmp.resolve("ppo");
        ppoOutcome = new PpoTrainer(p.with(b -> b.gamma(0.0)), QUIET).run(snapshot, sft, rm, ppo, null);
        ppoPtx = tmp.resolve("ppo-ptx");
        TokenStream ptx =
                TokenStream.of(WordNetCorpus.load(2).train(), io.rlhf4j.core.checkpoint.Checkpoint.readTokenizer(sft));
        new PpoTrainer(p, QUIET).run(snapshot, sft, rm, ppoPtx, ptx);
        loraPpoPtx = tmp.resolve("lora-ppo-ptx");
        loraOutcome = new PpoTrainer(p, QUIET).withLora(LORA).run(snapshot, sft, rm, loraPpoPtx, ptx);
    }

    @Test
    void theRewardModelBeatsChanceOnALabelerGroupItNeverTrainedOn() throws Exception {
        double heldOut = Pipeline.heldOutAccuracy(snapshot, rm);
        System.out.printf(
                "reward model: validation accuracy %.3f, held-out group %.3f%n",
                rmOutcome.after().accuracy(), heldOut);
        assertThat(heldOut).as("pair accuracy on the held-out group's rankings").isGreaterThan(0.58);
        assertThat(rmOutcome.after().accuracy()).as("validation accuracy").isGreaterThan(0.58);
    }

    @Test
    void ppoRaisesTheRewardAndBeatsSftByTheGoldLabelers() throws Exception {
        assertThat(PipelineConfig.defaults().ppo().gamma())
                .as("the recipe is PPO-ptx")
                .isPositive();
        assertRaisesTheRewardAndBeatsSft("PPO", ppoOutcome, ppo);
    }

    /** The same with only a rank-16 adapter training on the frozen SFT model, which is also the reference. */
    @Test
    void loraPpoPtxRaisesTheRewardAndBeatsSftByTheGoldLabelers() throws Exception {
        assertRaisesTheRewardAndBeatsSft("LoRA PPO-ptx", loraOutcome, loraPpoPtx);
    }

    private void assertRaisesTheRewardAndBeatsSft(String name, PpoTrainer.Outcome outcome, Path policy)
            throws Exception {
        assertThat(outcome.rewardAfter()).isGreaterThan(outcome.rewardBefore());
        try (Judge gold = Judge.named(GoldJudge.NAME, Pipeline.testPrompts(snapshot, 200), null, policy)) {
            WinRate.Result r = WinRate.evaluate(
                    policy, sft, Pipeline.testPrompts(snapshot, 200), gold, WinRate.Options.defaults());
            System.out.printf(
                    "%s: mean RM score %.3f -> %.3f; gold %s%n",
                    name, outcome.rewardBefore(), outcome.rewardAfter(), r);
            assertThat(r.winRate()).as("%s", r).isGreaterThan(0.5);
        }
    }

    @Test
    void thePretrainingMixLowersTheAlignmentTax() throws Exception {
        double sftLoss = AlignmentTax.pretrainingLoss(sft, 16);
        double plain = AlignmentTax.pretrainingLoss(ppo, 16) - sftLoss;
        double mixed = AlignmentTax.pretrainingLoss(ppoPtx, 16) - sftLoss;
        System.out.printf("pretraining loss: SFT %.4f, PPO %+.4f, PPO-ptx %+.4f%n", sftLoss, plain, mixed);
        assertThat(mixed)
                .as("PPO-ptx regression %.4f vs PPO %.4f", mixed, plain)
                .isLessThan(plain);
    }
}
