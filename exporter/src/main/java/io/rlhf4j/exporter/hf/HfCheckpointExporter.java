package io.rlhf4j.exporter.hf;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.checkpoint.TensorLayout;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a checkpoint for HF transformers (and OpenRLHF, TRL, vLLM): the decoder's tensors only (a
 * reward model's score head is left behind, as {@code *ForCausalLM} has none) in the dtype asked, in
 * shards with {@code model.safetensors.index.json} above the shard size, beside {@code config.json}
 * (with its {@code torch_dtype}), the tokenizer files, the chat template and the generation config.
 */
public final class HfCheckpointExporter {

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KB|MB|GB|KIB|MIB|GIB)?");

    private final PrintStream log;

    public HfCheckpointExporter(PrintStream log) {
        this.log = log;
    }

    public void export(Path model, Path out, Checkpoint.Storage storage) throws IOException {
        long started = System.nanoTime();
        ModelConfig config = Checkpoint.readConfig(model);
        Map<String, Tensor> weights = Checkpoint.readWeights(model);
        List<Tensor> tensors = Decoder.checkTensors(config, weights, model.toString());
        Path generation = model.resolve(Checkpoint.GENERATION_CONFIG);
        Checkpoint.write(
                out,
                config,
                tensors,
                Checkpoint.readTokenizer(model),
                dir -> {
                    if (Files.exists(generation)) {
                        Files.copy(
                                generation,
                                dir.resolve(Checkpoint.GENERATION_CONFIG),
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                },
                storage);
        List<String> files = Checkpoint.weightFiles(out);
        log.printf(
                Locale.ROOT,
                "wrote %s: %d tensors as %s in %s in %.1f s%n",
                out,
                TensorLayout.shapes(config).size(),
                storage.dtype().torchDtype(),
                files.size() == 1 ? files.get(0) : (files.size() - 1) + " shards and " + files.get(0),
                (System.nanoTime() - started) / 1e9);
    }

    /** HF's {@code max_shard_size} spellings: {@code 2GB} is 10^9 bytes times 2, {@code 2GiB} 2^31. */
    public static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.strip().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "a shard size is a number with an optional unit (500MB, 2GB, 2GiB), got '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        long scale = switch (unit) {
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "KIB" -> 1L << 10;
            case "MIB" -> 1L << 20;
            case "GIB" -> 1L << 30;
            default -> 1L;
        };
        return Math.multiplyExact(n, scale);
    }
}
