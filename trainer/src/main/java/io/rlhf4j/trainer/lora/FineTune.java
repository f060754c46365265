package io.rlhf4j.trainer.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.run.StageRunner;
import io.rlhf4j.trainer.run.StageState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a policy stage (SFT, PPO-ptx, DPO, RLOO) trains: every weight of its model, or a LoRA adapter
 * on a frozen base, seen through {@link Decoder#view} so the base stays shared (PPO's reference is the
 * base itself). Checkpoints hold the merged weights, which later stages and the export take as they
 * are; a LoRA run also writes its adapter in PEFT's layout beside them and resumes from that file,
 * since merged weights cannot be split into base and update again.
 */
public final class FineTune {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Decoder model;
    private final LoraAdapter adapter;
    private final String baseName;
    private final String baseSha256;

    private FineTune(Decoder model, LoraAdapter adapter, String baseName, String baseSha256) {
        this.model = model;
        this.adapter = adapter;
        this.baseName = baseName;
        this.baseSha256 = baseSha256;
    }

    /**
     * Trains {@code base} itself when {@code lora} is null; otherwise a fresh seeded adapter on it (the
     * base then held in the config's precision, for every other view of it too), whose adapter file records {@code baseDir} (the checkpoint {@code base} was read from) and its digest.
     */
    public static FineTune of(LoraConfig lora, Decoder base, long seed, Path baseDir, NDManager manager)
            throws IOException {
        if (lora == null) {
            return new FineTune(base, null, null, null);
        }
        LoraAdapter adapter = LoraAdapter.initialise(lora, base, seed, manager);
        base.freeze(lora.basePrecision());
        return new FineTune(
                base.view(adapter), adapter, StageRunner.absolute(baseDir), Checkpoint.weightsSha256(baseDir));
    }

    /** Records {@code lora} under "lora" in a run's config or manifest (nothing for full fine-tuning). */
    public static ObjectNode record(ObjectNode node, LoraConfig lora) {
        if (lora != null) {
            node.set("lora", JSON.valueToTree(lora));
        }
        return node;
    }

    /** The model as it computes: base plus update under LoRA. */
    public Decoder model() {
        return model;
    }

    public boolean lora() {
        return adapter != null;
    }

    /** What the optimizer steps and the gradients are clipped over. */
    public Map<String, NDArray> parameters() {
        return model.trainableParameters();
    }

    /** The tensors that train (the whole model, or the adapter's): what a "best so far" copy keeps. */
    public List<Tensor> trained() {
        return adapter == null ? model.toTensors() : adapter.toTensors();
    }

    /** Overwrites what trains from tensors {@link #trained} gave. */
    public void load(Map<String, Tensor> tensors) {
        if (adapter == null) {
            model.load(tensors);
        } else {
            adapter.load(tensors);
        }
    }

    /** Writes the adapter in PEFT's layout into a checkpoint being filled; nothing for full fine-tuning. */
    public void writeAdapter(Path dir) throws IOException {
        if (adapter != null) {
            PeftAdapter.write(
                    dir, adapter, baseName, baseSha256, model.config().family().name());
        }
    }

    /** The finished run: the model as it computes (merged under LoRA), with the adapter beside it. */
    public void saveFinal(StageState state, Tokenizer tokenizer, List<String> metrics, ObjectNode manifest)
            throws IOException {
        state.saveFinal(model.config(), model.toTensors(), tokenizer, metrics, manifest, this::writeAdapter);
    }

    /**
     * Restores a run saved after {@code step} steps: the weights (from the adapter file under LoRA) and,
     * when {@code optimizer} is given, its moments with {@code step} as its step count. Returns the
     * metrics up to {@code step}.
     */
    public List<String> restore(RunDirectory run, AdamW optimizer, int step) throws IOException {
        if (adapter == null) {
            return run.restore(model, optimizer, step);
        }
        PeftAdapter.restore(run.path(), adapter);
        if (optimizer != null) {
            optimizer.restore(SafeTensors.read(run.path().resolve(RunDirectory.OPTIMIZER)), step);
        }
        return run.metricsUpTo(step);
    }
}
