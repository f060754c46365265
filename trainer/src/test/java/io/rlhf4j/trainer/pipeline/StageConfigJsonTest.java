package io.rlhf4j.trainer.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.trainer.dpo.DpoConfig;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.pretrain.PretrainConfig;
import io.rlhf4j.trainer.rloo.RlooConfig;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.sft.SftConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Stage configs nest their optimizer's settings but keep the flat JSON they always had: manifests,
 * {@code trainer_state.json} (a resumed run compares it) and config files stay as they were.
 */
class StageConfigJsonTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyStageConfigRoundTripsThroughJson() throws Exception {
        roundTrip(SftConfig.defaults().with(b -> b.epochs(2).lr(3e-4).weightDecay(0.01)), SftConfig.class);
        roundTrip(RmConfig.defaults().with(b -> b.rankingsPerStep(3).gradClip(0.5)), RmConfig.class);
        roundTrip(PpoConfig.defaults().with(b -> b.lr(3e-5).valueLr(1e-4).gamma(0.5)), PpoConfig.class);
        roundTrip(PretrainConfig.demo().with(b -> b.steps(120).dropout(0.1)), PretrainConfig.class);
        roundTrip(DpoConfig.defaults().with(b -> b.beta(0.3).gamma(0.5).epochs(2)), DpoConfig.class);
        roundTrip(RlooConfig.defaults().with(b -> b.k(6).lr(3e-5).gamma(0.5)), RlooConfig.class);
        roundTrip(PipelineConfig.defaults(), PipelineConfig.class);
        roundTrip(PipelineConfig.defaults().withPolicy("rloo"), PipelineConfig.class);
    }

    @Test
    void adamSettingsAreWrittenOnlyWhenTheyDifferFromTheDefaults() throws Exception {
        SftConfig plain = SftConfig.defaults();
        assertThat(JSON.valueToTree(plain).has(OptimizerConfig.BETA2_KEY)).isFalse();
        SftConfig beta2 = plain.with(b -> b.optimizer(plain.optimizer().withAdam(OptimizerConfig.BETA2_KEY, 0.999)));
        assertThat(JSON.<JsonNode>valueToTree(beta2)
                        .get(OptimizerConfig.BETA2_KEY)
                        .asDouble())
                .isEqualTo(0.999);
        roundTrip(beta2, SftConfig.class);
        PpoConfig decayed = PpoConfig.defaults()
                .with(b -> b.optimizer(OptimizerConfig.adamW(2e-5, 0.1, 1.0).withAdam(OptimizerConfig.EPS_KEY, 1e-6)));
        assertThat(decayed.valueOptimizer()).isEqualTo(decayed.policyOptimizer().withLr(1e-5));
        roundTrip(decayed, PpoConfig.class);
    }

    @Test
    void theWireFormatIsTheFlatOneOfEarlierRuns() throws Exception {
        assertThat(keys(SftConfig.defaults()))
                .containsExactly(
                        "epochs",
                        "batch_size",
                        "lr",
                        "min_lr",
                        "warmup_steps",
                        "weight_decay",
                        "grad_clip",
                        "dropout",
                        "eval_every",
                        "seed");
        assertThat(keys(RmConfig.defaults()))
                .containsExactly(
                        "epochs",
                        "rankings_per_step",
                        "lr",
                        "min_lr",
                        "warmup_steps",
                        "weight_decay",
                        "grad_clip",
                        "eval_every",
                        "seed");
        assertThat(keys(PpoConfig.defaults()))
                .containsExactly(
                        "iterations",
                        "rollouts_per_iteration",
                        "max_new_tokens",
                        "ppo_epochs",
                        "minibatch_size",
                        "lr",
                        "value_lr",
                        "beta",
                        "kl_target",
                        "gamma",
                        "ptx_batch_size",
                        "discount",
                        "lambda",
                        "clip_range",
                        "value_clip_range",
                        "grad_clip",
                        "seed");
        assertThat(keys(DpoConfig.defaults()))
                .containsExactly(
                        "epochs",
                        "rankings_per_step",
                        "beta",
                        "gamma",
                        "ptx_batch_size",
                        "lr",
                        "min_lr",
                        "warmup_steps",
                        "weight_decay",
                        "grad_clip",
                        "eval_every",
                        "seed");
        assertThat(keys(RlooConfig.defaults()))
                .containsExactly(
                        "iterations",
                        "prompts_per_iteration",
                        "k",
                        "max_new_tokens",
                        "beta",
                        "gamma",
                        "ptx_batch_size",
                        "lr",
                        "weight_decay",
                        "grad_clip",
                        "seed");
        // The demo model was trained before the optimizer had a record: its state must still match exactly.
        JsonNode state = JSON.readTree(
                Path.of("..", "demo", "base-model", "trainer_state.json").toFile());
        assertThat(JSON.writeValueAsString(PretrainConfig.demo()))
                .isEqualTo(JSON.writeValueAsString(state.get("config")));
    }

    @Test
    void thePipelineDefaultsAreTheTunedOnes() {
        PipelineConfig c = PipelineConfig.defaults();
        assertThat(c.sft().epochs()).isEqualTo(2);
        assertThat(c.sft().optimizer()).isEqualTo(OptimizerConfig.adamW(1e-3, 0.0, 1.0));
        assertThat(c.rm().epochs()).isEqualTo(2);
        assertThat(c.rm().optimizer()).isEqualTo(OptimizerConfig.adamW(5e-4, 0.0, 1.0));
        PpoConfig p = c.ppo();
        assertThat(List.of(
                        p.iterations(),
                        p.rolloutsPerIteration(),
                        p.maxNewTokens(),
                        p.ppoEpochs(),
                        p.minibatchSize(),
                        p.ptxBatchSize()))
                .containsExactly(20, 16, 24, 2, 8, 8);
        assertThat(p.policyOptimizer()).isEqualTo(OptimizerConfig.adamW(3e-5, 0.0, 1.0));
        assertThat(p.valueOptimizer()).isEqualTo(OptimizerConfig.adamW(1e-4, 0.0, 1.0));
        assertThat(List.of(
                        p.beta(), p.klTarget(), p.gamma(), p.discount(), p.lambda(), p.clipRange(), p.valueClipRange()))
                .containsExactly(0.05, 0.0, 0.5, 1.0, 0.95, 0.2, 0.2);
        assertThat(c.policy()).isEqualTo("ppo");
        assertThat(List.of(c.dpo().epochs(), c.dpo().rankingsPerStep())).containsExactly(2, 8);
        assertThat(List.of(
                        c.dpo().optimizer().lr(),
                        c.dpo().minLr(),
                        c.dpo().beta(),
                        c.dpo().gamma()))
                .containsExactly(1e-4, 1e-5, 0.5, 0.0);
        // RLOO sees PPO's samples per iteration (4 prompts x k = 4 against 16 rollouts), with its leash and ptx.
        RlooConfig r = c.rloo();
        assertThat(List.of(r.iterations(), r.promptsPerIteration() * r.k(), r.maxNewTokens()))
                .containsExactly(p.iterations(), p.rolloutsPerIteration(), p.maxNewTokens());
        assertThat(List.of(r.optimizer().lr(), r.beta(), r.gamma())).containsExactly(1e-4, p.beta(), p.gamma());
    }

    @Test
    void overridesByNameStillFailOnUnknownKeys() {
        ObjectNode overrides = JSON.createObjectNode();
        overrides.putObject("ppo").put("value_lr", 2e-4).put("grad_clip", 0.5);
        PipelineConfig c = PipelineConfig.defaults().with(overrides, "test");
        assertThat(c.ppo().valueOptimizer().lr()).isEqualTo(2e-4);
        assertThat(c.ppo().valueOptimizer().gradClip()).isEqualTo(0.5);
        assertThat(c.ppo().policyOptimizer().gradClip()).isEqualTo(0.5);
        ObjectNode bad = JSON.createObjectNode();
        bad.putObject("sft").put("lrr", 1e-3);
        assertThatThrownBy(() -> PipelineConfig.defaults().with(bad, "test")).hasMessageContaining("'sft.lrr'");
    }

    @Test
    void loraIsOffByDefaultAndSetByName() {
        assertThat(PipelineConfig.defaults().lora().config()).isNull();
        ObjectNode o = JSON.createObjectNode();
        o.putObject("lora").put("rank", 16).putArray("targets").add("q").add("v");
        PipelineConfig c = PipelineConfig.defaults().with(o, "test");
        assertThat(c.lora().config()).isEqualTo(new io.rlhf4j.trainer.model.LoraConfig(16, 16, 0.0, List.of("q", "v")));
        ObjectNode bad = JSON.createObjectNode();
        bad.putObject("lora").put("rank", -1);
        assertThatThrownBy(() -> PipelineConfig.defaults().with(bad, "test")).hasMessageContaining("lora.rank");
        ObjectNode unknown = JSON.createObjectNode();
        unknown.putObject("lora").put("rank", 4).putArray("targets").add("qkv");
        assertThatThrownBy(() -> PipelineConfig.defaults().with(unknown, "test"))
                .hasMessageContaining("no LoRA target module 'qkv'");
        ObjectNode half = JSON.createObjectNode();
        half.putObject("lora").put("rank", 8).put("base_precision", "fp16");
        assertThat(PipelineConfig.defaults().with(half, "test").lora().config().basePrecision())
                .isEqualTo(io.rlhf4j.trainer.model.Precision.FP16);
        ObjectNode bf16 = JSON.createObjectNode();
        bf16.putObject("lora").put("rank", 8).put("base_precision", "bf16");
        assertThatThrownBy(() -> PipelineConfig.defaults().with(bf16, "test")).hasMessageContaining("fp32 or fp16");
    }

    @Test
    void thePolicyStageIsChosenByNameAndAnUnknownOneIsRefused() {
        assertThat(PipelineConfig.defaults().policy()).isEqualTo("ppo");
        ObjectNode dpo = JSON.createObjectNode().put("policy", "dpo");
        dpo.putObject("dpo").put("beta", 0.5);
        PipelineConfig c = PipelineConfig.defaults().with(dpo, "test");
        assertThat(c.policy()).isEqualTo("dpo");
        assertThat(c.dpo().beta()).isEqualTo(0.5);
        assertThatThrownBy(() ->
                        PipelineConfig.defaults().with(JSON.createObjectNode().put("policy", "grpo"), "test"))
                .hasMessageContaining("policy must be one of ppo, dpo, rloo");
    }

    private static <T> void roundTrip(T config, Class<T> type) throws Exception {
        String text = JSON.writeValueAsString(config);
        assertThat(JSON.readValue(text, type)).isEqualTo(config);
        assertThat(JSON.writeValueAsString(JSON.readValue(text, type))).isEqualTo(text);
    }

    private static List<String> keys(Object config) {
        List<String> out = new ArrayList<>();
        JSON.<JsonNode>valueToTree(config).fieldNames().forEachRemaining(out::add);
        return out;
    }
}
