package io.rlhf4j.trainer.importer;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.config.ModelFamily;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.core.tokenizer.Tokenizers;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Imports an HF checkpoint directory of a supported family (Llama, Mistral, Qwen2, Qwen3, Phi-3, GPT-2):
 * {@code config.json}, {@code model.safetensors} (or shards listed in
 * {@code model.safetensors.index.json}), F32/F16/BF16, and {@code tokenizer.json} with its
 * {@code tokenizer_config.json} (and so the chat template). Names are normalised (GPT-2's base-model
 * checkpoints omit the {@code transformer.} prefix; Phi-3's fused projections are split into Llama's)
 * and checked against the config before anything is written.
 */
public final class HfImporter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfImporter() {}

    public static ModelConfig importDir(Path source, Path out) throws IOException {
        return importDir(source, out, note -> {});
    }

    /** As {@link #importDir(Path, Path)}, telling {@code notes} what the import changed and why. */
    public static ModelConfig importDir(Path source, Path out, Consumer<String> notes) throws IOException {
        ModelConfig config = Checkpoint.readConfig(source);
        io.rlhf4j.core.checkpoint.MemoryBudget.require(config, source.toString());
        int declared = JSON.readTree(source.resolve(ModelConfig.FILE_NAME).toFile())
                .path("max_position_embeddings")
                .asInt(config.maxPositions());
        if (declared > config.maxPositions()) {
            notes.accept(String.format(
                    "sliding_window %d is shorter than max_position_embeddings %d: the context is capped at %d, "
                            + "within which sliding-window attention is full attention",
                    config.maxPositions(), declared, config.maxPositions()));
        }
        Map<String, Tensor> raw = Checkpoint.readWeights(source);
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (Tensor t : raw.values()) {
            String name = t.name();
            if (config.family() == ModelFamily.GPT2
                    && !name.startsWith("transformer.")
                    && !name.startsWith("lm_head.")) {
                name = "transformer." + name;
            }
            if (name.endsWith(".self_attn.qkv_proj.weight")) {
                split(t, name.replace("qkv_proj", "%s"), config, byName, "q_proj", "k_proj", "v_proj");
            } else if (name.endsWith(".mlp.gate_up_proj.weight")) {
                split(t, name.replace("gate_up_proj", "%s"), config, byName, "gate_proj", "up_proj");
            } else {
                byName.put(name, new Tensor(name, t.shape(), t.data()));
            }
        }
        List<Tensor> tensors = Decoder.checkTensors(config, byName, source.toString());
        if (!Files.exists(source.resolve("tokenizer.json"))) {
            throw new CheckpointFormatException(source + ": tokenizer.json is missing (HF's fast-tokenizer file is "
                    + "required; SentencePiece-only checkpoints are not supported)");
        }
        Tokenizer tokenizer = Tokenizers.load(source);
        if (tokenizer.vocabSize() > config.vocabSize()) {
            throw new CheckpointFormatException(source + ": tokenizer has " + tokenizer.vocabSize()
                    + " tokens but config.json's vocab_size is " + config.vocabSize());
        }
        // The model's own generation defaults (several EOS ids, sampling settings) travel with it.
        Path generation = source.resolve(Checkpoint.GENERATION_CONFIG);
        Checkpoint.write(out, config, tensors, tokenizer, dir -> {
            if (Files.exists(generation)) {
                Files.copy(generation, dir.resolve(Checkpoint.GENERATION_CONFIG), StandardCopyOption.REPLACE_EXISTING);
            }
        });
        return config;
    }

    /**
     * Phi-3's fused projections, rows stacked as q, k, v (or gate, up), into Llama's separate ones;
     * {@code pattern} has a {@code %s} where each part's name goes.
     */
    private static void split(Tensor fused, String pattern, ModelConfig c, Map<String, Tensor> into, String... parts) {
        long[] rows = parts.length == 3
                ? new long[] {c.queryWidth(), c.kvWidth(), c.kvWidth()}
                : new long[] {c.intermediateSize(), c.intermediateSize()};
        long cols = fused.shape()[1];
        if (fused.shape().length != 2
                || fused.shape()[0] != java.util.Arrays.stream(rows).sum()) {
            throw new CheckpointFormatException(fused.name() + ": shape " + java.util.Arrays.toString(fused.shape())
                    + " does not split into " + java.util.Arrays.toString(rows) + " rows as config.json implies");
        }
        int from = 0;
        for (int i = 0; i < parts.length; i++) {
            int n = (int) (rows[i] * cols);
            String name = String.format(pattern, parts[i]);
            into.put(
                    name,
                    new Tensor(
                            name,
                            new long[] {rows[i], cols},
                            java.util.Arrays.copyOfRange(fused.data(), from, from + n)));
            from += n;
        }
    }
}
