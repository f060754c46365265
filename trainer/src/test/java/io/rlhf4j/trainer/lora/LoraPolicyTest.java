package io.rlhf4j.trainer.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.dpo.DpoConfig;
import io.rlhf4j.trainer.dpo.DpoTrainer;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.ppo.PpoModels;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.ppo.PpoTrainerTest;
import io.rlhf4j.trainer.rloo.RlooConfig;
import io.rlhf4j.trainer.rloo.RlooTrainer;
import io.rlhf4j.trainer.rm.LoraRewardTest;
import io.rlhf4j.trainer.rm.PraiseWorld;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.run.RunAssertions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The policy stages with LoRA on the demo base model (standing in for SFT) in the praise world: PPO-ptx,
 * DPO and RLOO each move their objective with only adapters training, their checkpoints are merged
 * policies with the PEFT adapter beside, and PPO holds one frozen base for policy, reference, critic and
 * a reward model trained with LoRA on the same base.
 */
class LoraPolicyTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");
    static final LoraConfig LORA = new LoraConfig(8, 16, 0.0, List.of("q", "k", "v", "o", "gate", "up", "down"));

    @TempDir
    static Path tmp;

    static Path snapshot;
    static Path loraRm;
    static Path fullRm;

    @BeforeAll
    static void world() throws Exception {
        snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        RmConfig rm = LoraRewardTest.config();
        loraRm = tmp.resolve("lora-rm");
        new RewardTrainer(rm, QUIET).withLora(LORA).run(snapshot, BASE, loraRm);
        fullRm = PraiseWorld.rewardModel(snapshot, BASE, tmp.resolve("full-rm"), QUIET);
    }

    /** The full-fine-tuning test's settings with the larger learning rates adapters want. */
    static PpoConfig ppo(int iterations, double gamma) {
        return PpoTrainerTest.config(iterations, gamma).with(b -> b.lr(3e-3).valueLr(3e-3));
    }

    @Test
    void underLoraPpoHoldsOneFrozenBaseForAllFourModels() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE).withResidDropout(0);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                PpoModels shared = PpoModels.load(BASE, loraRm, config, LORA, 1, m);
                PpoModels apart = PpoModels.load(BASE, fullRm, config, LORA, 1, m)) {
            assertThat(shared.sharedRewardBase()).isTrue();
            String w = "model.layers.0.self_attn.q_proj.weight";
            var base = shared.reference().parameters().get(w);
            assertThat(shared.policy().model().parameters().get(w)).isSameAs(base);
            assertThat(shared.reward().trunk().parameters().get(w)).isSameAs(base);
            // Only adapters and the critic's head train: no base array is handed to an optimizer.
            assertThat(shared.policy().parameters().keySet()).allMatch(n -> n.contains("lora_"));
            assertThat(shared.value().parameters().keySet())
                    .allMatch(n -> n.contains("lora_") || n.startsWith("score."));
            // A reward model with another base is held apart, and the critic adapts its trunk.
            assertThat(apart.sharedRewardBase()).isFalse();
            assertThat(apart.reward().trunk().parameters().get(w)).isNotSameAs(base);
        }
    }

    @Test
    void loraPpoPtxRaisesTheRewardAndWritesAMergedPolicyWithItsAdapter() throws Exception {
        TokenStream ptx =
                TokenStream.of(WordNetCorpus.load(2).train().subList(0, 2000), Checkpoint.readTokenizer(BASE));
        Path out = tmp.resolve("ppo");
        PpoTrainer.Outcome o =
                new PpoTrainer(ppo(10, 0.1), QUIET).withLora(LORA).run(snapshot, BASE, loraRm, out, ptx);
        assertThat(o.rewardAfter()).isGreaterThan(o.rewardBefore() + 0.1);
        PeftAdapter adapter = PeftAdapter.read(out);
        assertThat(adapter.baseWeightsSha256()).isEqualTo(Checkpoint.weightsSha256(BASE));
        assertThat(adapter.config()).isEqualTo(LORA);
        assertThat(Checkpoint.readWeights(out).get("model.embed_tokens.weight").data())
                .as("not adapted")
                .containsExactly(Checkpoint.readWeights(BASE)
                        .get("model.embed_tokens.weight")
                        .data());
    }

    @Test
    void anInterruptedLoraPpoRunResumesToTheSameAdaptersBitForBit() throws Exception {
        PpoConfig c = ppo(3, 0);
        Path straight = tmp.resolve("ppo-straight");
        new PpoTrainer(c, QUIET).withLora(LORA).run(snapshot, BASE, fullRm, straight, null);
        Path resumed = tmp.resolve("ppo-resumed");
        new PpoTrainer(c, QUIET).withLora(LORA).stopAfter(1).run(snapshot, BASE, fullRm, resumed, null);
        new PpoTrainer(c, QUIET).withLora(LORA).run(snapshot, BASE, fullRm, resumed, null);
        assertResumedWithTheSameAdapter(straight, resumed);
    }

    @Test
    void loraDpoLearnsTheRankingsAndResumes() throws Exception {
        DpoConfig c = DpoConfig.builder()
                .epochs(3)
                .rankingsPerStep(4)
                .beta(0.5)
                .lr(2e-3)
                .minLr(2e-4)
                .warmupSteps(3)
                .evalEvery(10)
                .seed(11)
                .build();
        Path straight = tmp.resolve("dpo");
        DpoTrainer.Outcome o = new DpoTrainer(c, QUIET).withLora(LORA).run(snapshot, BASE, straight, null);
        assertThat(o.before().accuracy()).isZero();
        assertThat(o.after().accuracy()).isGreaterThanOrEqualTo(0.75);
        Path resumed = tmp.resolve("dpo-resumed");
        new DpoTrainer(c, QUIET).withLora(LORA).stopAfter(10).run(snapshot, BASE, resumed, null);
        new DpoTrainer(c, QUIET).withLora(LORA).run(snapshot, BASE, resumed, null);
        assertResumedWithTheSameAdapter(straight, resumed);
    }

    @Test
    void loraRlooRaisesTheRewardModelsScore() throws Exception {
        RlooConfig c = RlooConfig.builder()
                .iterations(10)
                .promptsPerIteration(4)
                .k(4)
                .maxNewTokens(6)
                .beta(0.02)
                .lr(3e-3)
                .seed(21)
                .build();
        Path out = tmp.resolve("rloo");
        RlooTrainer.Outcome o = new RlooTrainer(c, QUIET).withLora(LORA).run(snapshot, BASE, loraRm, out, null);
        assertThat(o.rewardAfter()).isGreaterThan(o.rewardBefore() + 0.1);
        assertThat(PeftAdapter.in(out)).isTrue();
    }

    /** The merged weights and, bit for bit, the adapter a resumed run wrote are those of the straight run. */
    private static void assertResumedWithTheSameAdapter(Path straight, Path resumed) throws Exception {
        RunAssertions.assertResumedLike(straight, resumed);
        assertSameTensors(
                SafeTensors.read(straight.resolve(PeftAdapter.WEIGHTS)),
                SafeTensors.read(resumed.resolve(PeftAdapter.WEIGHTS)));
    }

    static void assertSameTensors(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertThat(b.keySet()).isEqualTo(a.keySet());
        a.forEach((name, t) -> assertThat(b.get(name).data()).as(name).containsExactly(t.data()));
    }
}
