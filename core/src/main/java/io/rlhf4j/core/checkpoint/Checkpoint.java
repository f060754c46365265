package io.rlhf4j.core.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.core.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A checkpoint directory in HF's layout: {@code config.json}, {@code model.safetensors} with HF tensor
 * names, {@code tokenizer.json} and {@code generation_config.json}. What this class writes loads in HF
 * transformers; what HF writes for a supported family loads here.
 */
public final class Checkpoint {

    public static final String WEIGHTS = "model.safetensors";
    /** HF's list of shards: {@code weight_map} from tensor name to shard file. */
    public static final String WEIGHTS_INDEX = "model.safetensors.index.json";
    /** HF's default {@code max_shard_size} for {@code save_pretrained}. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 2L << 30;

    /** How weights are stored: their dtype, and the size above which they are split into shards. */
    public record Storage(SafeTensors.Dtype dtype, long maxShardBytes) {
        public static final Storage DEFAULT = new Storage(SafeTensors.Dtype.F32, DEFAULT_MAX_SHARD_BYTES);

        public Storage {
            if (maxShardBytes <= 0) {
                throw new IllegalArgumentException("the shard size must be positive, got " + maxShardBytes);
            }
        }
    }

    public static final String GENERATION_CONFIG = "generation_config.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Checkpoint() {}

    public static ModelConfig readConfig(Path dir) throws IOException {
        requireDirectory(dir);
        return ModelConfig.read(dir);
    }

    /**
     * The weights of {@code dir}: {@code model.safetensors}, or every shard its
     * {@code model.safetensors.index.json} names, each tensor found where the index says it is.
     */
    public static Map<String, Tensor> readWeights(Path dir) throws IOException {
        requireDirectory(dir);
        Path index = dir.resolve(WEIGHTS_INDEX);
        if (Files.exists(dir.resolve(WEIGHTS)) || !Files.exists(index)) {
            if (!Files.exists(dir.resolve(WEIGHTS))) {
                throw new CheckpointFormatException(dir + ": neither " + WEIGHTS + " nor " + WEIGHTS_INDEX
                        + " exists (only safetensors checkpoints are supported)");
            }
            return SafeTensors.read(dir.resolve(WEIGHTS));
        }
        Map<String, String> where = weightMap(index);
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(where.values())) {
            Path file = dir.resolve(shard);
            if (!Files.isRegularFile(file)) {
                throw new CheckpointFormatException(index + ": shard '" + shard + "' is missing");
            }
            Map<String, Tensor> held = SafeTensors.read(file);
            for (Map.Entry<String, String> e : where.entrySet()) {
                if (e.getValue().equals(shard) && !held.containsKey(e.getKey())) {
                    throw new CheckpointFormatException(
                            index + ": tensor '" + e.getKey() + "' is not in its shard '" + shard + "'");
                }
            }
            all.putAll(held);
        }
        return all;
    }

    private static Map<String, String> weightMap(Path index) throws IOException {
        JsonNode map;
        try {
            map = JSON.readTree(index.toFile()).path("weight_map");
        } catch (JsonProcessingException e) {
            throw new CheckpointFormatException(index + ": invalid JSON (" + e.getOriginalMessage() + ")");
        }
        if (!map.isObject() || map.isEmpty()) {
            throw new CheckpointFormatException(index + ": field 'weight_map' is missing or empty");
        }
        Map<String, String> where = new LinkedHashMap<>();
        map.fields().forEachRemaining(e -> where.put(e.getKey(), e.getValue().asText()));
        return where;
    }

    /** The files holding {@code dir}'s weights: {@code model.safetensors}, or the index and its shards. */
    public static List<String> weightFiles(Path dir) throws IOException {
        if (Files.exists(dir.resolve(WEIGHTS)) || !Files.exists(dir.resolve(WEIGHTS_INDEX))) {
            return List.of(WEIGHTS);
        }
        List<String> files = new ArrayList<>(List.of(WEIGHTS_INDEX));
        files.addAll(new TreeSet<>(weightMap(dir.resolve(WEIGHTS_INDEX)).values()));
        return files;
    }

    /**
     * The weights' identity for lineage: the sha256 of {@code model.safetensors}, or of the shards'
     * sha256s in order for a sharded checkpoint.
     */
    public static String weightsSha256(Path dir) throws IOException {
        List<String> files = weightFiles(dir);
        if (files.size() == 1) {
            return Checksums.sha256(dir.resolve(files.get(0)));
        }
        StringBuilder b = new StringBuilder();
        for (String f : files.subList(1, files.size())) {
            b.append(Checksums.sha256(dir.resolve(f))).append('\n');
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
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
        write(dir, config, tensors, tokenizer, extra, Storage.DEFAULT);
    }

    /** As {@link #write(Path, ModelConfig, Collection, Tokenizer, AtomicDirectory.Filler)}, stored as asked. */
    public static void write(
            Path dir,
            ModelConfig config,
            Collection<Tensor> tensors,
            Tokenizer tokenizer,
            AtomicDirectory.Filler extra,
            Storage storage)
            throws IOException {
        if (tokenizer.vocabSize() > config.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize()
                    + " tokens, more than the model's vocab_size of " + config.vocabSize());
        }
        AtomicDirectory.write(dir, tmp -> {
            ObjectNode json = config.toJson();
            json.put("torch_dtype", storage.dtype().torchDtype());
            JSON.writeValue(tmp.resolve(ModelConfig.FILE_NAME).toFile(), json);
            writeWeights(tmp, tensors, storage);
            tokenizer.save(tmp);
            writeGenerationConfig(tmp, config);
            if (extra != null) {
                extra.fill(tmp);
            }
        });
    }

    /**
     * One {@code model.safetensors}, or, above the shard size, shards named as HF names them
     * ({@code model-00001-of-00003.safetensors}) in tensor order, each at most the shard size unless
     * one tensor alone is larger, and the index HF's {@code from_pretrained} reads.
     */
    private static void writeWeights(Path dir, Collection<Tensor> tensors, Storage storage) throws IOException {
        List<List<Tensor>> shards = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long size = 0;
        long total = 0;
        for (Tensor t : tensors) {
            long bytes = storage.dtype().bytes(t);
            if (!current.isEmpty() && size + bytes > storage.maxShardBytes()) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += bytes;
            total += bytes;
        }
        shards.add(current);
        if (shards.size() == 1) {
            SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"), storage.dtype());
            return;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            SafeTensors.write(dir.resolve(name), shards.get(i), Map.of("format", "pt"), storage.dtype());
            shards.get(i).forEach(t -> map.put(t.name(), name));
        }
        JSON.writeValue(dir.resolve(WEIGHTS_INDEX).toFile(), index);
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
