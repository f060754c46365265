package io.rlhf4j.trainer.rm;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.lora.PeftAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.run.RunAssertions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reward model as a LoRA adapter plus the scalar head on the frozen trunk: it learns the praise
 * world's rankings, its checkpoint is an ordinary reward model (merged trunk and head) with the adapter
 * beside it, and an interrupted run resumes to the same adapter and head bit for bit.
 */
public class LoraRewardTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    Path tmp;

    public static RmConfig config() {
        return RmConfig.builder()
                .epochs(3)
                .rankingsPerStep(4)
                .lr(1e-3)
                .minLr(1e-4)
                .warmupSteps(3)
                .evalEvery(10)
                .seed(3)
                .build();
    }

    @Test
    void aLoraRewardModelLearnsTheRankingsAndIsAnOrdinaryCheckpoint() throws Exception {
        Path snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        Path out = tmp.resolve("rm");
        RewardTrainer.Outcome o = new RewardTrainer(config(), QUIET)
                .withLora(new LoraConfig(8, 16, 0.0, List.of("q", "v", "up", "down")))
                .run(snapshot, BASE, out);
        assertThat(o.after().accuracy())
                .isGreaterThanOrEqualTo(0.875)
                .isGreaterThan(o.before().accuracy());
        Map<String, Tensor> base = Checkpoint.readWeights(BASE);
        Map<String, Tensor> rm = Checkpoint.readWeights(out);
        assertThat(rm).containsKeys(RewardModel.HEAD_WEIGHT, RewardModel.HEAD_BIAS);
        assertThat(rm.get("model.layers.1.self_attn.k_proj.weight").data())
                .as("not a target")
                .containsExactly(
                        base.get("model.layers.1.self_attn.k_proj.weight").data());
        assertThat(rm.get("model.layers.1.mlp.up_proj.weight").data())
                .isNotEqualTo(base.get("model.layers.1.mlp.up_proj.weight").data());
        assertThat(PeftAdapter.read(out).config().targets())
                .containsExactly("q_proj", "v_proj", "up_proj", "down_proj");
        // What PPO and the judge load: the merged reward model ranks the validation pairs as training saw.
        try (var m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch");
                RewardModel loaded = RewardModel.load(out, m)) {
            var validation = RankedExample.load(snapshot, "validation", Checkpoint.readTokenizer(BASE), 64);
            assertThat(RewardTrainer.evaluate(loaded, validation).accuracy())
                    .isEqualTo(o.after().accuracy());
        }
    }

    @Test
    void anInterruptedLoraRewardRunResumesBitForBit() throws Exception {
        Path snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        LoraConfig lora = LoraConfig.of(4, 8);
        Path straight = tmp.resolve("straight");
        new RewardTrainer(config(), QUIET).withLora(lora).run(snapshot, BASE, straight);
        Path resumed = tmp.resolve("resumed");
        new RewardTrainer(config(), QUIET).withLora(lora).stopAfter(10).run(snapshot, BASE, resumed);
        new RewardTrainer(config(), QUIET).withLora(lora).run(snapshot, BASE, resumed);
        RunAssertions.assertResumedLike(straight, resumed);
        Map<String, Tensor> a = SafeTensors.read(straight.resolve(PeftAdapter.WEIGHTS));
        Map<String, Tensor> b = SafeTensors.read(resumed.resolve(PeftAdapter.WEIGHTS));
        a.forEach((name, t) -> assertThat(b.get(name).data()).as(name).containsExactly(t.data()));
        for (String head : List.of(RewardModel.HEAD_WEIGHT, RewardModel.HEAD_BIAS)) {
            assertThat(Checkpoint.readWeights(resumed).get(head).data())
                    .as(head)
                    .containsExactly(Checkpoint.readWeights(straight).get(head).data());
        }
    }
}
