package io.rlhf4j.trainer.sft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Precision;
import io.rlhf4j.trainer.run.RunDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA base held in fp16: it computes exactly what fp32 weights rounded to fp16 compute (the
 * rounding done here by hand, not by the engine), a LoRA SFT run on it follows the fp32 run's loss
 * curve closely, and what cannot work on it (loading in place, full training, fp16 overflow) is refused.
 */
class HalfPrecisionBaseTest {

    static final Path BASE = Path.of("..", "demo", "base-model");
    static final String Q = "model.layers.0.self_attn.q_proj.weight";

    @TempDir
    Path tmp;

    /** IEEE fp16 round-to-nearest-even of {@code x}, subnormals included (|x| well inside the range). */
    static float toHalf(float x) {
        int exponent = Math.max(Math.getExponent(x), -14); // fp16's smallest normal exponent
        double ulp = Math.scalb(1.0, exponent - 10); // 10 mantissa bits
        return (float) (Math.rint(x / ulp) * ulp);
    }

    @Test
    void anFp16BaseComputesWhatItsWeightsRoundedToFp16Compute() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        Map<String, Tensor> weights = Checkpoint.readWeights(BASE);
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        weights.forEach((name, t) -> {
            float[] d = t.data().clone();
            if (t.shape().length == 2) {
                for (int i = 0; i < d.length; i++) {
                    d[i] = toHalf(d[i]);
                }
            }
            rounded.put(name, new Tensor(name, t.shape(), d));
        });
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder half = Decoder.fromTensors(config, weights, m, "base");
                Decoder reference = Decoder.fromTensors(config, rounded, m, "rounded");
                Decoder full = Decoder.fromTensors(config, weights, m, "base")) {
            half.freeze(Precision.FP16);
            assertThat(half.parameters().get(Q).getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(half.parameters().get("model.embed_tokens.weight").getDataType())
                    .isEqualTo(DataType.FLOAT16);
            assertThat(half.parameters().get("model.norm.weight").getDataType())
                    .as("norms stay fp32")
                    .isEqualTo(DataType.FLOAT32);
            for (Tensor t : half.toTensors()) {
                assertThat(t.data())
                        .as(t.name())
                        .containsExactly(rounded.get(t.name()).data());
            }

            NDArray ids = m.create(new long[][] {{1, 5, 9, 30, 2, 7}, {4, 4, 8, 15, 16, 23}});
            NDArray positions = m.arange(0, 6, 1, DataType.INT64).expandDims(0).repeat(0, 2);
            float[] h = half.forward(ids, positions, null, null, false).toFloatArray();
            float[] r = reference.forward(ids, positions, null, null, false).toFloatArray();
            float[] f = full.forward(ids, positions, null, null, false).toFloatArray();
            double fromReference = 0;
            double fromFp32 = 0;
            for (int i = 0; i < h.length; i++) {
                fromReference = Math.max(fromReference, Math.abs(h[i] - r[i]));
                fromFp32 = Math.max(fromFp32, Math.abs(h[i] - f[i]));
            }
            System.out.printf(
                    "fp16 base: max |logit difference| %.2e from the rounded fp32 model, %.2e from fp32%n",
                    fromReference, fromFp32);
            assertThat(fromReference).isLessThan(1e-5);
            assertThat(fromFp32)
                    .as("fp16 rounding moves the logits, a little")
                    .isPositive()
                    .isLessThan(0.05);

            // an adapter on the fp16 base trains in fp32; the base cannot be trained or loaded itself
            LoraAdapter adapter = LoraAdapter.initialise(LoraConfig.of(4, 8), half, 1, m);
            Decoder view = half.view(adapter);
            assertThat(view.trainableParameters().values()).allMatch(p -> p.getDataType() == DataType.FLOAT32);
            assertThatThrownBy(() -> view.freeze(Precision.FP16)).isInstanceOf(IllegalArgumentException.class);
            half.attach(null);
            assertThatThrownBy(half::requireGradients).hasMessageContaining("half precision");
            assertThatThrownBy(() -> half.load(weights)).hasMessageContaining("half precision");
            adapter.close();
        }
    }

    @Test
    void aMatrixBeyondFp16sRangeIsRefusedAndNothingIsConverted() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        Map<String, Tensor> weights = new LinkedHashMap<>(Checkpoint.readWeights(BASE));
        Tensor q = weights.get(Q);
        float[] big = q.data().clone();
        big[3] = 1e5f;
        weights.put(Q, new Tensor(Q, q.shape(), big));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.fromTensors(config, weights, m, "big")) {
            assertThatThrownBy(() -> d.freeze(Precision.FP16))
                    .hasMessageContaining(Q)
                    .hasMessageContaining("65504");
            assertThat(d.parameters().values()).allMatch(p -> p.getDataType() == DataType.FLOAT32);
        }
        assertThatThrownBy(() -> Precision.parse("bf16")).hasMessageContaining("fp32 or fp16");
    }

    @Test
    void loraSftOnAnFp16BaseFollowsTheFp32RunsLossCurve() throws Exception {
        Path snap = SftTrainerTest.snapshot(tmp.resolve("snap"), SftTrainerTest.TRAIN, SftTrainerTest.TRAIN);
        LoraConfig lora = new LoraConfig(8, 16, 0.0, List.of("q", "k", "v", "o", "gate", "up", "down"));
        Path fp32 = tmp.resolve("fp32");
        Path fp16 = tmp.resolve("fp16");
        SftTrainer.Outcome a = new SftTrainer(LoraSftTest.config(), SftTrainerTest.QUIET)
                .withLora(lora)
                .run(snap, SftTrainerTest.BASE, fp32);
        SftTrainer.Outcome b = new SftTrainer(LoraSftTest.config(), SftTrainerTest.QUIET)
                .withLora(lora.withBasePrecision(Precision.FP16))
                .run(snap, SftTrainerTest.BASE, fp16);
        List<Double> curveA = losses(fp32);
        List<Double> curveB = losses(fp16);
        assertThat(curveB).hasSameSizeAs(curveA).hasSizeGreaterThan(10);
        double apart = 0;
        for (int i = 0; i < curveA.size(); i++) {
            apart = Math.max(apart, Math.abs(curveA.get(i) - curveB.get(i)));
        }
        System.out.printf(
                "LoRA SFT, fp32 vs fp16 base: loss %.4f -> %.4f vs %.4f -> %.4f, max |difference| %.4f over %d "
                        + "steps; best validation %.4f vs %.4f; estimated weights %.1f vs %.1f MiB%n",
                curveA.get(0),
                curveA.get(curveA.size() - 1),
                curveB.get(0),
                curveB.get(curveB.size() - 1),
                apart,
                curveA.size(),
                a.bestValidationLoss(),
                b.bestValidationLoss(),
                a.memory().weights() / 1048576.0,
                b.memory().weights() / 1048576.0);
        assertThat(b.bestValidationLoss()).isLessThan(b.firstValidationLoss() - 0.5);
        assertThat(apart).as("the curves lie apart by").isLessThan(0.02);
        assertThat(Math.abs(a.bestValidationLoss() - b.bestValidationLoss())).isLessThan(0.02);
        assertThat(b.memory().weights()).isLessThan(a.memory().weights() * 6 / 10);
        assertThat(Files.readString(fp16.resolve("training_manifest.json"))).contains("fp16");
    }

    private static List<Double> losses(Path run) throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<Double> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve(RunDirectory.METRICS))) {
            var row = json.readTree(line);
            if (row.has("loss")) {
                out.add(row.get("loss").asDouble());
            }
        }
        return out;
    }
}
