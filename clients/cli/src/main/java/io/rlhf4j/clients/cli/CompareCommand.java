package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.trainer.pipeline.PipelineConfig;
import io.rlhf4j.trainer.pipeline.PolicyComparison;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "compare",
        mixinStandardHelpOptions = true,
        description = {
            "PPO-ptx, DPO and RLOO from one snapshot: one SFT model and one reward model, then each policy stage "
                    + "from that SFT, judged against SFT, the base model and each other on the snapshot's test "
                    + "prompts (ties half), with each one's alignment tax (pretraining loss above SFT's), wall time "
                    + "and training tokens/s.",
            "Stages are kept under --out and resume there; --config takes the pipeline's sections (sft, rm, ppo, "
                    + "dpo, rloo, eval)."
        })
final class CompareCommand implements Callable<Integer> {

    @Option(names = "--snapshot", required = true, paramLabel = "DIR")
    Path snapshot;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the base checkpoint SFT starts from")
    Path model;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "sft/, rm/ and one directory per policy")
    Path out;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON pipeline settings")
    Path configFile;

    @Option(
            names = "--policies",
            split = ",",
            defaultValue = "ppo,dpo,rloo",
            description = "which stages, in order (default ${DEFAULT-VALUE})")
    List<String> policies;

    @Option(
            names = "--judge",
            description = "gold (the demo world's labelers) or rm (the reward model trained here); default: the "
                    + "config's eval.judge")
    String judge;

    @Option(names = "--json", description = "one JSON object")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PipelineConfig config = configFile != null ? PipelineConfig.read(configFile) : PipelineConfig.defaults();
        if (judge != null) {
            ObjectNode override = Json.MAPPER.createObjectNode();
            override.putObject("eval").put("judge", judge);
            config = config.with(override, "--judge");
        }
        ObjectNode table = PolicyComparison.run(config, policies, snapshot, model, out, System.err);
        if (json) {
            System.out.println(table.toString());
            return 0;
        }
        System.out.printf(
                "judge %s, n = %d test prompts; pretraining loss: base %.4f, SFT %.4f%n",
                table.get("judge").asText(),
                table.get("n").asInt(),
                table.get("pretraining_loss_base").asDouble(),
                table.get("pretraining_loss_sft").asDouble());
        System.out.printf(
                "%-6s %12s %12s %14s %11s %9s%n",
                "policy", "win vs SFT", "win vs base", "alignment tax", "tokens/s", "wall s");
        for (JsonNode r : table.get("policies")) {
            boolean kept = r.path("kept").asBoolean(false);
            System.out.printf(
                    "%-6s %12.3f %12.3f %+14.4f %11s %9s%n",
                    r.get("policy").asText(),
                    r.get("win_rate_vs_sft").asDouble(),
                    r.get("win_rate_vs_base").asDouble(),
                    r.get("alignment_tax").asDouble(),
                    kept
                            ? "kept"
                            : String.format("%.1f", r.get("tokens_per_second").asDouble()),
                    kept ? "kept" : String.format("%.1f", r.get("seconds").asDouble()));
        }
        for (JsonNode h : table.get("head_to_head")) {
            System.out.printf(
                    "%s vs %s: %.3f (%d wins, %d ties, %d losses)%n",
                    h.get("a").asText(),
                    h.get("b").asText(),
                    h.get("win_rate").asDouble(),
                    h.get("wins").asInt(),
                    h.get("ties").asInt(),
                    h.get("losses").asInt());
        }
        return 0;
    }
}
