package io.rlhf4j.trainer.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter on disk in PEFT's layout, so that {@code PeftModel.from_pretrained} loads what we
 * train and we load what PEFT trains: {@code adapter_config.json} (LoraConfig's keys) and
 * {@code adapter_model.safetensors} (PEFT's tensor names, the adapter name stripped). Beside them,
 * {@code rlhf4j_adapter.json} records the base weights' digest and family, which PEFT does not, so an
 * adapter is never merged onto another base; adapters from elsewhere lack it and are checked by shape.
 *
 * @param baseWeightsSha256 the base's {@code weightsSha256}, or null when unknown
 * @param family the base's family name, or null when unknown
 */
public record PeftAdapter(LoraConfig config, Map<String, Tensor> tensors, String baseWeightsSha256, String family) {

    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String BASE = "rlhf4j_adapter.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Whether {@code dir} holds an adapter. */
    public static boolean in(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG)) && Files.isRegularFile(dir.resolve(WEIGHTS));
    }

    /** Writes {@code adapter}'s three files into {@code dir} (which must exist: a checkpoint being filled). */
    public static void write(Path dir, LoraAdapter adapter, String baseName, String baseWeightsSha256, String family)
            throws IOException {
        LoraConfig c = adapter.config();
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("peft_type", "LORA");
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("base_model_name_or_path", baseName);
        cfg.put("r", c.rank());
        cfg.put("lora_alpha", c.alpha());
        cfg.put("lora_dropout", c.dropout());
        cfg.putArray("target_modules")
                .addAll(c.targets().stream()
                        .map(JSON.getNodeFactory()::textNode)
                        .toList());
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", false);
        cfg.put("inference_mode", true);
        cfg.put("init_lora_weights", true);
        cfg.put("use_rslora", false);
        cfg.put("use_dora", false);
        cfg.putNull("modules_to_save");
        JSON.writeValue(dir.resolve(CONFIG).toFile(), cfg);
        SafeTensors.write(dir.resolve(WEIGHTS), adapter.toTensors(), Map.of("format", "pt"));
        JSON.writeValue(
                dir.resolve(BASE).toFile(),
                JSON.createObjectNode()
                        .put("base_weights_sha256", baseWeightsSha256)
                        .put("family", family));
    }

    /**
     * Loads the adapter a run saved into {@code dir} back into {@code adapter}: how a LoRA run resumes,
     * since its checkpoint's merged weights cannot be split into base and update again.
     */
    public static void restore(Path dir, LoraAdapter adapter) throws IOException {
        adapter.load(SafeTensors.read(dir.resolve(WEIGHTS)));
    }

    /** Reads the adapter in {@code dir}; what LoRA settings we cannot honour are refused by name. */
    public static PeftAdapter read(Path dir) throws IOException {
        if (!in(dir)) {
            throw new IllegalArgumentException(dir + " holds no PEFT adapter (" + CONFIG + " and " + WEIGHTS + ")");
        }
        JsonNode cfg = JSON.readTree(dir.resolve(CONFIG).toFile());
        String type = cfg.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw new IllegalArgumentException(dir + ": peft_type '" + type + "' is not LORA");
        }
        for (String flag : List.of("use_dora", "fan_in_fan_out", "use_rslora")) {
            if (cfg.path(flag).asBoolean(false)) {
                throw new IllegalArgumentException(dir + ": " + flag + " adapters are not supported");
            }
        }
        if (!cfg.path("bias").asText("none").equals("none")
                || cfg.hasNonNull("rank_pattern") && !cfg.get("rank_pattern").isEmpty()
                || cfg.hasNonNull("alpha_pattern") && !cfg.get("alpha_pattern").isEmpty()) {
            throw new IllegalArgumentException(
                    dir + ": trained biases and per-module rank or alpha patterns are not supported");
        }
        List<String> targets = new ArrayList<>();
        JsonNode t = cfg.path("target_modules");
        if (t.isTextual()) {
            throw new IllegalArgumentException(
                    dir + ": target_modules as a regular expression is not supported; list " + "the modules");
        }
        t.forEach(n -> targets.add(n.asText()));
        LoraConfig config = new LoraConfig(
                cfg.path("r").asInt(8),
                cfg.path("lora_alpha").asDouble(8),
                cfg.path("lora_dropout").asDouble(0),
                targets);
        String sha = null;
        String family = null;
        if (Files.isRegularFile(dir.resolve(BASE))) {
            JsonNode base = JSON.readTree(dir.resolve(BASE).toFile());
            sha = base.path("base_weights_sha256").asText(null);
            family = base.path("family").asText(null);
        }
        return new PeftAdapter(config, SafeTensors.read(dir.resolve(WEIGHTS)), sha, family);
    }
}
