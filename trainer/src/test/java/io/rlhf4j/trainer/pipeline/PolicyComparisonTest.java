package io.rlhf4j.trainer.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.trainer.rm.PraiseWorld;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The comparison trains one SFT and one reward model, then each policy stage from them, and reports
 * each against SFT, the base and the others, with its tax, time and throughput (tiny stages here: the
 * figures' shape and bookkeeping are what is checked; the demo world's figures are in docs/notes.md).
 */
class PolicyComparisonTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    Path tmp;

    @Test
    void everyStageIsJudgedAgainstSftTheBaseAndEachOther() throws Exception {
        Path snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        List<String> demos = new ArrayList<>();
        List<String> tests = new ArrayList<>();
        for (String topic : List.of("dog", "tree", "house", "river", "song", "book")) {
            var row = JSON.createObjectNode().put("prompt", "Describe the " + topic + ":");
            row.putArray("demonstrations").addObject().put("labeler", "l").put("text", " a good " + topic);
            demos.add(JSON.writeValueAsString(row));
            tests.add(JSON.writeValueAsString(JSON.createObjectNode().put("prompt", "Tell me of the " + topic + ":")));
        }
        Files.write(snapshot.resolve("sft.train.jsonl"), demos);
        Files.write(snapshot.resolve("sft.validation.jsonl"), demos.subList(0, 2));
        Files.write(snapshot.resolve("ppo.test.jsonl"), tests);
        ObjectNode o = JSON.createObjectNode();
        o.putObject("sft").put("epochs", 1).put("batch_size", 3);
        o.putObject("rm").put("epochs", 1).put("rankings_per_step", 8);
        o.putObject("ppo")
                .put("iterations", 2)
                .put("rollouts_per_iteration", 4)
                .put("minibatch_size", 4)
                .put("max_new_tokens", 4)
                .put("gamma", 0.0);
        o.putObject("dpo").put("epochs", 1).put("rankings_per_step", 8);
        o.putObject("rloo")
                .put("iterations", 2)
                .put("prompts_per_iteration", 2)
                .put("k", 2)
                .put("max_new_tokens", 4)
                .put("gamma", 0.0);
        o.putObject("eval").put("judge", "rm").put("max_new_tokens", 6);
        PipelineConfig config = PipelineConfig.defaults().with(o, "test");

        ObjectNode table =
                PolicyComparison.run(config, List.of("ppo", "dpo", "rloo"), snapshot, BASE, tmp.resolve("out"), QUIET);
        assertThat(table.get("n").asInt()).isEqualTo(6);
        List<JsonNode> rows = new ArrayList<>();
        table.get("policies").forEach(rows::add);
        assertThat(rows).extracting(r -> r.get("policy").asText()).containsExactly("ppo", "dpo", "rloo");
        double sftLoss = table.get("pretraining_loss_sft").asDouble();
        assertThat(rows).allSatisfy(r -> {
            assertThat(r.get("win_rate_vs_sft").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("win_rate_vs_base").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("wins_vs_sft").asInt()
                            + r.get("ties_vs_sft").asInt()
                            + r.get("losses_vs_sft").asInt())
                    .isEqualTo(6);
            assertThat(r.get("alignment_tax").asDouble())
                    .isCloseTo(r.get("pretraining_loss").asDouble() - sftLoss, within(1e-12));
            assertThat(r.get("trained_tokens").asLong()).isPositive();
            assertThat(r.get("tokens_per_second").asDouble()).isPositive();
            assertThat(r.has("kept")).isFalse();
            assertThat(Path.of(r.get("dir").asText())).isDirectory();
        });
        assertThat(rows.get(0).has("reward_after")).isTrue();
        assertThat(rows.get(1).has("reward_after"))
                .as("DPO samples nothing while training")
                .isFalse();
        assertThat(rows.get(2).has("reward_after")).isTrue();
        List<String> pairs = new ArrayList<>();
        table.get("head_to_head")
                .forEach(h -> pairs.add(h.get("a").asText() + "-" + h.get("b").asText()));
        assertThat(pairs).containsExactly("ppo-dpo", "ppo-rloo", "dpo-rloo");
        assertThat(table.get("judge").asText()).startsWith("rm:");

        // Run again on the same directory: every stage is kept, with the same verdicts and no time.
        ObjectNode again =
                PolicyComparison.run(config, List.of("ppo", "dpo", "rloo"), snapshot, BASE, tmp.resolve("out"), QUIET);
        for (int i = 0; i < 3; i++) {
            JsonNode r = again.get("policies").get(i);
            assertThat(r.get("kept").asBoolean()).isTrue();
            assertThat(r.has("seconds")).isFalse();
            assertThat(r.get("win_rate_vs_sft").asDouble())
                    .isEqualTo(rows.get(i).get("win_rate_vs_sft").asDouble());
        }
    }

    @Test
    void anUnknownPolicyIsRefusedBeforeAnythingTrains() {
        Path out = tmp.resolve("x");
        assertThatThrownBy(() ->
                        PolicyComparison.run(PipelineConfig.defaults(), List.of("ppo", "grpo"), tmp, BASE, out, QUIET))
                .hasMessageContaining("no policy stage called 'grpo'");
        assertThat(out).doesNotExist();
    }
}
