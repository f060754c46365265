package io.rlhf4j.trainer.importer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Imports an HF checkpoint directory of a supported family (Llama, GPT-2): {@code config.json},
 * {@code model.safetensors} (or shards listed in {@code model.safetensors.index.json}), F32/F16/BF16,
 * and {@code tokenizer.json}. Names are normalised (GPT-2's base-model checkpoints omit the
 * {@code transformer.} prefix) and checked against the config before anything is written.
 */
public final class HfImporter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfImporter() {}

    public static ModelConfig importDir(Path source, Path out) throws IOException {
        ModelConfig config = Checkpoint.readConfig(source);
        io.rlhf4j.core.checkpoint.MemoryBudget.require(config, source.toString());
        Map<String, Tensor> raw = readAllWeights(source);
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (Tensor t : raw.values()) {
            String name = t.name();
            if (config.family() == ModelFamily.GPT2
                    && !name.startsWith("transformer.")
                    && !name.startsWith("lm_head.")) {
                name = "transformer." + name;
            }
            byName.put(name, new Tensor(name, t.shape(), t.data()));
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
        Checkpoint.write(out, config, tensors, tokenizer, null);
        return config;
    }

    private static Map<String, Tensor> readAllWeights(Path source) throws IOException {
        Path single = source.resolve(Checkpoint.WEIGHTS);
        if (Files.exists(single)) {
            return SafeTensors.read(single);
        }
        Path index = source.resolve("model.safetensors.index.json");
        if (!Files.exists(index)) {
            throw new CheckpointFormatException(source + ": neither model.safetensors nor "
                    + "model.safetensors.index.json exists (only safetensors checkpoints are supported)");
        }
        JsonNode map = JSON.readTree(index.toFile()).path("weight_map");
        TreeSet<String> shards = new TreeSet<>();
        map.forEach(n -> shards.add(n.asText()));
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String shard : shards) {
            all.putAll(SafeTensors.read(source.resolve(shard)));
        }
        return all;
    }
}
