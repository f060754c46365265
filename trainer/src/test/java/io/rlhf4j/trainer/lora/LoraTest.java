package io.rlhf4j.trainer.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA on the demo base (a 4-layer Llama): an attached adapter is the base plus its low-rank update,
 * merging gives the same logits, and adapters are written and read in PEFT's layout.
 */
class LoraTest {

    static final Path BASE = Path.of("..", "demo", "base-model");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** An adapter with random A and B (a fresh one has B = 0 and changes nothing). */
    static Map<String, Tensor> randomAdapter(ModelConfig c, LoraConfig lora, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        int kvDim = c.kvWidth();
        for (int layer = 0; layer < c.numLayers(); layer++) {
            for (String t : lora.targets()) {
                int in = t.equals("down_proj")
                        ? c.intermediateSize()
                        : t.equals("o_proj") ? c.queryWidth() : c.hiddenSize();
                int outDim = switch (t) {
                    case "k_proj", "v_proj" -> kvDim;
                    case "gate_proj", "up_proj" -> c.intermediateSize();
                    case "q_proj" -> c.queryWidth();
                    default -> c.hiddenSize();
                };
                String m = LoraAdapter.PREFIX + "model.layers." + layer + "." + LoraConfig.MODULES.get(t);
                out.put(m + ".lora_A.weight", gaussian(r, new long[] {lora.rank(), in}, 0.05));
                out.put(m + ".lora_B.weight", gaussian(r, new long[] {outDim, lora.rank()}, 0.05));
            }
        }
        return out;
    }

    static Tensor gaussian(Random r, long[] shape, double std) {
        float[] d = new float[(int) (shape[0] * shape[1])];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (r.nextGaussian() * std);
        }
        return new Tensor("", shape, d);
    }

    static float[] logits(Decoder d, NDManager m) {
        long[] ids = {1, 17, 250, 33, 900, 4, 71, 1200};
        NDArray x = m.create(ids, new Shape(1, ids.length));
        NDArray pos = m.arange(0, ids.length, 1, DataType.INT64).reshape(1, ids.length);
        return d.forward(x, pos, null, null, false).toFloatArray();
    }

    static Map<String, Tensor> named(Map<String, Tensor> t) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        t.forEach((k, v) -> out.put(k, new Tensor(k, v.shape(), v.data())));
        return out;
    }

    @Test
    void aMergedCheckpointGivesTheLogitsOfTheBasePlusItsAdapter() throws Exception {
        ModelConfig c = Checkpoint.readConfig(BASE);
        LoraConfig lora = LoraConfig.of(4, 8);
        Map<String, Tensor> tensors = named(randomAdapter(c, lora, 3));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder base = Decoder.fromTensors(c, Checkpoint.readWeights(BASE), m, "base");
                LoraAdapter fresh = LoraAdapter.initialise(lora, base, 5, m);
                LoraAdapter adapter = LoraAdapter.fromTensors(lora, tensors, base, m)) {
            float[] plain = logits(base, m);
            base.attach(fresh);
            assertThat(logits(base, m)).as("B starts at zero").containsExactly(plain);
            base.attach(adapter);
            float[] adapted = logits(base, m);
            base.attach(null);
            assertThat(maxAbsDiff(adapted, plain))
                    .as("the adapter changes the model")
                    .isGreaterThan(1e-2);

            Path adapterDir = Files.createDirectories(tmp.resolve("adapter"));
            PeftAdapter.write(
                    adapterDir,
                    adapter,
                    "demo",
                    Checkpoint.weightsSha256(BASE),
                    c.family().name());
            Path merged = tmp.resolve("merged");
            LoraMerge.merge(BASE, adapterDir, merged);
            try (Decoder m2 = Decoder.load(merged, m)) {
                assertThat(maxAbsDiff(logits(m2, m), adapted)).isLessThan(1e-5);
            }
            assertThat(JSON.readTree(merged.resolve(LoraMerge.MANIFEST).toFile())
                            .get("rank")
                            .asInt())
                    .isEqualTo(4);
        }
    }

    @Test
    void adaptersAreWrittenWithPeftsTensorNamesAndConfigKeys() throws Exception {
        ModelConfig c = Checkpoint.readConfig(BASE);
        LoraConfig lora = new LoraConfig(2, 16, 0.05, List.of("q", "v"));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder base = Decoder.fromTensors(c, Checkpoint.readWeights(BASE), m, "base");
                LoraAdapter adapter = LoraAdapter.initialise(lora, base, 5, m)) {
            Path dir = Files.createDirectories(tmp.resolve("peft"));
            PeftAdapter.write(dir, adapter, "demo/base-model", "abc", c.family().name());
            // PEFT's documented layout (docs/source/developer_guides/checkpoint.md): keys start with
            // base_model.model., then the module path, then lora_A/lora_B .weight; A is [r, in], B [out, r].
            Map<String, Tensor> saved = SafeTensors.read(dir.resolve(PeftAdapter.WEIGHTS));
            List<String> expected = new ArrayList<>();
            for (int layer = 0; layer < c.numLayers(); layer++) {
                for (String p : List.of("q_proj", "v_proj")) {
                    for (String ab : List.of("lora_A", "lora_B")) {
                        expected.add(
                                "base_model.model.model.layers." + layer + ".self_attn." + p + "." + ab + ".weight");
                    }
                }
            }
            assertThat(saved.keySet()).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(saved.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
                            .shape())
                    .containsExactly(2, c.hiddenSize());
            assertThat(saved.get("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight")
                            .shape())
                    .containsExactly(c.kvWidth(), 2);
            JsonNode cfg = JSON.readTree(dir.resolve(PeftAdapter.CONFIG).toFile());
            assertThat(cfg.get("peft_type").asText()).isEqualTo("LORA");
            assertThat(cfg.get("task_type").asText()).isEqualTo("CAUSAL_LM");
            assertThat(cfg.get("r").asInt()).isEqualTo(2);
            assertThat(cfg.get("lora_alpha").asDouble()).isEqualTo(16);
            assertThat(cfg.get("lora_dropout").asDouble()).isEqualTo(0.05);
            assertThat(cfg.get("target_modules")).extracting(JsonNode::asText).containsExactly("q_proj", "v_proj");
            assertThat(cfg.get("bias").asText()).isEqualTo("none");
            assertThat(cfg.get("fan_in_fan_out").asBoolean()).isFalse();
            PeftAdapter back = PeftAdapter.read(dir);
            assertThat(back.config()).isEqualTo(lora);
            assertThat(back.baseWeightsSha256()).isEqualTo("abc");
        }
    }

    @Test
    void badAdaptersAndSettingsAreRefusedWithNothingWritten() throws Exception {
        ModelConfig c = Checkpoint.readConfig(BASE);
        assertThatThrownBy(() -> LoraConfig.of(0, 8)).hasMessageContaining("rank >= 1");
        assertThatThrownBy(() -> new LoraConfig(4, 8, 0, List.of("q", "qkv")))
                .hasMessageContaining("no LoRA target module 'qkv'");
        LoraConfig lora = LoraConfig.of(4, 8);
        Path out = tmp.resolve("out");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder base = Decoder.fromTensors(c, Checkpoint.readWeights(BASE), m, "base");
                LoraAdapter adapter = LoraAdapter.fromTensors(lora, named(randomAdapter(c, lora, 1)), base, m)) {
            Path otherBase = Files.createDirectories(tmp.resolve("other-base"));
            PeftAdapter.write(
                    otherBase, adapter, "x", "0".repeat(64), c.family().name());
            assertThatThrownBy(() -> LoraMerge.merge(BASE, otherBase, out)).hasMessageContaining("other base weights");

            Path gpt2 = Files.createDirectories(tmp.resolve("gpt2-adapter"));
            PeftAdapter.write(gpt2, adapter, "x", null, "GPT2");
            assertThatThrownBy(() -> LoraMerge.merge(BASE, gpt2, out)).hasMessageContaining("adapts a GPT2 model");

            // An adapter of another shape (a wider model's) without our record of its base: refused by shape.
            Map<String, Tensor> wrong = named(randomAdapter(c.withResidDropout(0.0), lora, 2));
            String key = LoraAdapter.PREFIX + "model.layers.0.self_attn.q_proj.lora_A.weight";
            wrong.put(key, new Tensor(key, new long[] {4, c.hiddenSize() + 1}, new float[4 * (c.hiddenSize() + 1)]));
            Path foreign = Files.createDirectories(tmp.resolve("foreign"));
            SafeTensors.write(foreign.resolve(PeftAdapter.WEIGHTS), wrong.values(), Map.of());
            Files.copy(otherBase.resolve(PeftAdapter.CONFIG), foreign.resolve(PeftAdapter.CONFIG));
            assertThatThrownBy(() -> LoraMerge.merge(BASE, foreign, out)).hasMessageContaining("has shape");
        }
        assertThat(out).doesNotExist();
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
