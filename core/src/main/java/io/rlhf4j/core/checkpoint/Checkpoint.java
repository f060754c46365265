package io.rlhf4j.core.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.core.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * A checkpoint directory in HF's layout: {@code config.json}, {@code model.safetensors} with HF tensor
 * names, {@code tokenizer.json} and {@code generation_config.json}. What this class writes loads in HF
 * transformers; what HF writes for a supported family loads here.
 */
public final class Checkpoint {

    public static final String WEIGHTS = "model.safetensors";
    public static final String GENERATION_CONFIG = "generation_config.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Checkpoint() {}

    public static ModelConfig readConfig(Path dir) throws IOException {
        requireDirectory(dir);
        return ModelConfig.read(dir);
    }

    public static Map<String, Tensor> readWeights(Path dir) throws IOException {
        requireDirectory(dir);
        return SafeTensors.read(dir.resolve(WEIGHTS));
    }

    public static Tokenizer readTokenizer(Path dir) throws IOException {
        requireDirectory(dir);
        return Tokenizers.load(dir);
    }

    /**
     * Writes a complete checkpoint atomically: {@code dir} is replaced only once every file is on disk.
     * {@code extra} may add files (a manifest, optimizer state) before the swap.
     */
    public static void write(
            Path dir, ModelConfig config, Collection<Tensor> tensors, Tokenizer tokenizer, AtomicDirectory.Filler extra)
            throws IOException {
        if (tokenizer.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize()
                    + " tokens, more than the model's vocab_size of " + config.vocabSize());
        }
        AtomicDirectory.write(dir, tmp -> {
            config.write(tmp);
            SafeTensors.write(tmp.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
            tokenizer.save(tmp);
            writeGenerationConfig(tmp, config);
            if (extra != null) {
                extra.fill(tmp);
            }
        });
    }

    private static void writeGenerationConfig(Path dir, ModelConfig config) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("bos_token_id", config.bosTokenId());
        n.put("eos_token_id", config.eosTokenId());
        n.put("max_length", config.maxPositions());
        JSON.writeValue(dir.resolve(GENERATION_CONFIG).toFile(), n);
    }

    private static void requireDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointFormatException(dir + ": not a checkpoint directory (missing or not a directory)");
        }
    }

    /** Whether two checkpoints tokenize alike: a policy and the reward model that scores it must. */
    public static boolean sameTokenizer(Path a, Path b) throws IOException {
        Path ta = a.resolve("tokenizer.json");
        Path tb = b.resolve("tokenizer.json");
        if (Files.exists(ta) && Files.exists(tb)) {
            return java.util.Arrays.equals(Files.readAllBytes(ta), Files.readAllBytes(tb));
        }
        return readTokenizer(a).vocabSize() == readTokenizer(b).vocabSize();
    }
}
