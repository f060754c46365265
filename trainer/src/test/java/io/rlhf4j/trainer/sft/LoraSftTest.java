package io.rlhf4j.trainer.sft;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.lora.LoraMerge;
import io.rlhf4j.trainer.lora.PeftAdapter;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.run.RunAssertions;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SFT with a LoRA adapter on the frozen demo base: it learns, only the adapted projections change, the
 * adapter it leaves beside the merged weights merges back to them, and an interrupted run resumes to
 * the same adapter bit for bit.
 */
class LoraSftTest {

    @TempDir
    Path tmp;

    static SftConfig config() {
        return SftConfig.builder()
                .epochs(10)
                .batchSize(4)
                .lr(3e-3)
                .minLr(3e-4)
                .warmupSteps(3)
                .dropout(0.0)
                .evalEvery(10)
                .seed(7)
                .build();
    }

    @Test
    void loraSftLearnsChangesOnlyTheAdaptedWeightsAndMergesBack() throws Exception {
        Path snap = SftTrainerTest.snapshot(tmp.resolve("snap"), SftTrainerTest.TRAIN, SftTrainerTest.TRAIN);
        Path out = tmp.resolve("lora");
        SftTrainer.Outcome o = new SftTrainer(config(), SftTrainerTest.QUIET)
                .withLora(new LoraConfig(8, 16, 0.0, java.util.List.of("q", "v", "gate", "down")))
                .run(snap, SftTrainerTest.BASE, out);
        assertThat(o.bestValidationLoss()).isLessThan(o.firstValidationLoss() - 0.5);

        Map<String, Tensor> base = Checkpoint.readWeights(SftTrainerTest.BASE);
        Map<String, Tensor> tuned = Checkpoint.readWeights(out);
        assertThat(tuned.get("model.embed_tokens.weight").data())
                .containsExactly(base.get("model.embed_tokens.weight").data());
        assertThat(tuned.get("model.layers.0.self_attn.k_proj.weight").data())
                .as("k_proj is not a target")
                .containsExactly(
                        base.get("model.layers.0.self_attn.k_proj.weight").data());
        assertThat(tuned.get("model.layers.0.self_attn.q_proj.weight").data())
                .isNotEqualTo(base.get("model.layers.0.self_attn.q_proj.weight").data());
        assertThat(PeftAdapter.read(out).baseWeightsSha256()).isEqualTo(Checkpoint.weightsSha256(SftTrainerTest.BASE));

        Path merged = tmp.resolve("merged");
        LoraMerge.merge(SftTrainerTest.BASE, out, merged);
        Map<String, Tensor> again = Checkpoint.readWeights(merged);
        for (var e : tuned.entrySet()) {
            float[] a = e.getValue().data();
            float[] b = again.get(e.getKey()).data();
            for (int i = 0; i < a.length; i++) {
                assertThat(Math.abs(a[i] - b[i])).as(e.getKey()).isLessThan(1e-6f);
            }
        }
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(out, m)) {
            assertThat(d.config().family())
                    .isEqualTo(Checkpoint.readConfig(SftTrainerTest.BASE).family());
        }
    }

    @Test
    void anInterruptedLoraRunResumesToTheSameAdapterBitForBit() throws Exception {
        Path snap = SftTrainerTest.snapshot(tmp.resolve("snap"), SftTrainerTest.TRAIN, SftTrainerTest.VALIDATION);
        LoraConfig lora = LoraConfig.of(4, 8);
        Path straight = tmp.resolve("straight");
        new SftTrainer(config(), SftTrainerTest.QUIET).withLora(lora).run(snap, SftTrainerTest.BASE, straight);
        Path resumed = tmp.resolve("resumed");
        new SftTrainer(config(), SftTrainerTest.QUIET)
                .withLora(lora)
                .stopAfter(7)
                .run(snap, SftTrainerTest.BASE, resumed);
        new SftTrainer(config(), SftTrainerTest.QUIET).withLora(lora).run(snap, SftTrainerTest.BASE, resumed);
        RunAssertions.assertResumedLike(straight, resumed);
        Map<String, Tensor> a = SafeTensors.read(straight.resolve(PeftAdapter.WEIGHTS));
        Map<String, Tensor> b = SafeTensors.read(resumed.resolve(PeftAdapter.WEIGHTS));
        assertThat(b.keySet()).isEqualTo(a.keySet());
        a.forEach((name, t) -> assertThat(b.get(name).data()).as(name).containsExactly(t.data()));
    }
}
