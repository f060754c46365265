package io.rlhf4j.trainer.lora;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * {@code rlhf4j merge}: a base checkpoint plus a LoRA adapter as one ordinary checkpoint, which export,
 * serving and every stage take as they take any other. Everything is checked before anything is
 * written: the adapter's recorded base digest and family, and each tensor's name and shape.
 */
public final class LoraMerge {

    public static final String MANIFEST = "merge_manifest.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private LoraMerge() {}

    public static void merge(Path base, Path adapterDir, Path out) throws IOException {
        PeftAdapter peft = PeftAdapter.read(adapterDir);
        ModelConfig config = Checkpoint.readConfig(base);
        if (peft.family() != null && !peft.family().equals(config.family().name())) {
            throw new IllegalArgumentException(adapterDir + " adapts a " + peft.family() + " model, but " + base
                    + " is " + config.family().name());
        }
        String sha = Checkpoint.weightsSha256(base);
        if (peft.baseWeightsSha256() != null && !peft.baseWeightsSha256().equals(sha)) {
            throw new IllegalArgumentException(adapterDir + " was trained on other base weights (sha256 "
                    + peft.baseWeightsSha256() + ") than " + base + "'s (" + sha + ")");
        }
        try (NDManager m = TrainingDevice.newManager();
                Decoder model = Decoder.fromTensors(config, Checkpoint.readWeights(base), m, base.toString());
                LoraAdapter adapter = LoraAdapter.fromTensors(peft.config(), peft.tensors(), model, m)) {
            model.attach(adapter);
            Checkpoint.write(out, config, model.toTensors(), Checkpoint.readTokenizer(base), dir -> {
                Path generation = base.resolve(Checkpoint.GENERATION_CONFIG);
                if (Files.isRegularFile(generation)) {
                    Files.copy(
                            generation, dir.resolve(Checkpoint.GENERATION_CONFIG), StandardCopyOption.REPLACE_EXISTING);
                }
                JSON.writeValue(
                        dir.resolve(MANIFEST).toFile(),
                        JSON.createObjectNode()
                                .put("base", base.toAbsolutePath().normalize().toString())
                                .put("base_weights_sha256", sha)
                                .put(
                                        "adapter",
                                        adapterDir.toAbsolutePath().normalize().toString())
                                .put("rank", peft.config().rank())
                                .put("lora_alpha", peft.config().alpha()));
            });
        }
    }
}
