package io.rlhf4j.trainer.pipeline;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.rlhf4j.core.loop.PipelineStages;
import io.rlhf4j.trainer.dpo.DpoConfig;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Precision;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.rloo.RlooConfig;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.sft.SftConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * The whole pipeline's settings: one section per stage plus the evaluation gate. {@code policy} names
 * the stage that makes the candidate from SFT (and the reward model, which every pipeline trains):
 * {@code ppo} (PPO-ptx, InstructGPT's), {@code dpo} or {@code rloo}; each has its section. A file or an
 * API request overrides any subset; a key the pipeline does not have is an error naming it.
 */
public record PipelineConfig(
        SftConfig sft,
        RmConfig rm,
        String policy,
        PpoConfig ppo,
        DpoConfig dpo,
        RlooConfig rloo,
        Lora lora,
        Eval eval) {

    /** The policy stages by name, in the order comparisons list them. */
    public static final List<String> POLICIES = PipelineStages.POLICIES;

    public PipelineConfig {
        if (!POLICIES.contains(policy)) {
            throw new IllegalArgumentException(
                    "policy must be one of " + String.join(", ", POLICIES) + ", got '" + policy + "'");
        }
    }

    /** These settings with another policy stage. */
    public PipelineConfig withPolicy(String name) {
        return new PipelineConfig(sft, rm, name, ppo, dpo, rloo, lora, eval);
    }

    /**
     * LoRA for every stage, SFT, the reward model and the policy stage ({@code rank} 0: every weight
     * trains, the default), the frozen base held in {@code base_precision} ({@code fp32} or {@code fp16}).
     * The stages' own {@code lr} still applies: a LoRA run usually wants a larger one (docs/notes.md).
     */
    public record Lora(int rank, double alpha, double dropout, List<String> targets, Precision basePrecision) {
        public Lora {
            if (rank < 0) {
                throw new IllegalArgumentException("lora.rank must be 0 (full fine-tuning) or positive, got " + rank);
            }
            targets = List.copyOf(targets);
            basePrecision = basePrecision == null ? Precision.FP32 : basePrecision;
            if (rank > 0) {
                new LoraConfig(rank, alpha, dropout, targets); // refuses what the adapter would
            }
        }

        public static Lora off() {
            return new Lora(0, 16, 0.0, List.copyOf(LoraConfig.MODULES.keySet()), Precision.FP32);
        }

        /** The adapter's settings, or null when off. */
        public LoraConfig config() {
            return rank == 0 ? null : new LoraConfig(rank, alpha, dropout, targets, basePrecision);
        }
    }

    /**
     * The gate a candidate must pass before it may be promoted: its win rate against the active
     * version on held-out test prompts, judged by {@code judge} ({@code gold} in the demo world, else
     * {@code rm}: the new reward model), and how much its pretraining loss may rise (the alignment tax).
     */
    public record Eval(
            String judge,
            int testPrompts,
            double minWinRate,
            double maxPretrainingLossIncrease,
            int maxNewTokens,
            double temperature,
            long seed) {
        public Eval {
            if (!judge.equals("gold") && !judge.equals("rm")) {
                throw new IllegalArgumentException("eval.judge must be gold or rm, got '" + judge + "'");
            }
            if (testPrompts < 1) {
                throw new IllegalArgumentException("eval.test_prompts must be at least 1");
            }
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * Sized for the demo world on two cores: a loop turn in a few minutes. PPO's step size and KL leash
     * are the ones that raised the gold win rate there (docs/notes.md); PPO-ptx by default, as InstructGPT.
     * RLOO gets PPO's sample budget (20 iterations of 16 samples) and leash, with the step size that did
     * best on the demo world (1e-4; 3e-5 moved it too little); DPO the best of the settings tried there
     * (two epochs, lr 1e-4, beta 0.5). The gate judges greedy answers: at this model size, sampling noise
     * swamps what PPO changes.
     */
    public static PipelineConfig defaults() {
        return new PipelineConfig(
                SftConfig.defaults().with(b -> b.epochs(2)),
                RmConfig.defaults().with(b -> b.epochs(2)),
                "ppo",
                PpoConfig.defaults()
                        .with(b -> b.lr(3e-5).valueLr(1e-4).beta(0.05).gamma(0.5)),
                DpoConfig.defaults().with(b -> b.epochs(2).lr(1e-4).minLr(1e-5).beta(0.5)),
                RlooConfig.defaults().with(b -> b.lr(1e-4).beta(0.05).gamma(0.5)),
                Lora.off(),
                new Eval("rm", 200, 0.5, 0.5, 32, 0.0, 1234));
    }

    /** {@code overrides} (a mapping, possibly partial) laid over these settings. */
    public PipelineConfig with(JsonNode overrides, String source) {
        if (overrides == null || overrides.isNull() || overrides.isMissingNode()) {
            return this;
        }
        if (!overrides.isObject()) {
            throw new IllegalArgumentException(source + ": expected a mapping of settings");
        }
        ObjectNode tree = YAML.valueToTree(this);
        merge(tree, (ObjectNode) overrides, source, "");
        try {
            return YAML.treeToValue(tree, PipelineConfig.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException(source + ": " + cause.getMessage());
        }
    }

    public static PipelineConfig read(Path file) throws IOException {
        JsonNode read;
        try {
            read = YAML.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid YAML or JSON (" + e.getOriginalMessage() + ")");
        }
        return defaults().with(read, file.toString());
    }

    public ObjectNode toJson() {
        return YAML.valueToTree(this);
    }

    private static void merge(ObjectNode into, ObjectNode from, String source, String path) {
        for (Iterator<String> it = from.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!into.has(key)) {
                throw new IllegalArgumentException(source + ": unknown key '" + path + key + "' (known: "
                        + String.join(", ", (Iterable<String>) into::fieldNames) + ")");
            }
            if (into.get(key).isObject() && from.get(key).isObject()) {
                merge((ObjectNode) into.get(key), (ObjectNode) from.get(key), source, path + key + ".");
            } else if (into.get(key).isObject()) {
                throw new IllegalArgumentException(source + ": '" + path + key + "' is a section of settings");
            } else {
                into.set(key, from.get(key));
            }
        }
    }
}
