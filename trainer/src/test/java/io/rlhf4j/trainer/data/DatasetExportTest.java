package io.rlhf4j.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.CheckpointFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot as OpenRLHF's and TRL's JSONL: field names, every ordered pair of a ranking, lineage. */
class DatasetExportTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    Path snapshot;

    @BeforeEach
    void snapshot() throws IOException {
        snapshot = tmp.resolve("snap-3");
        Files.createDirectories(snapshot);
        Files.writeString(snapshot.resolve("manifest.json"), "{\"id\":\"snap-3\",\"content_sha256\":\"abc\"}");
        Files.writeString(
                snapshot.resolve("sft.train.jsonl"),
                "{\"prompt_id\":\"p1\",\"prompt\":\"Name a cat.\",\"demonstrations\":[{\"labeler\":\"l1\","
                        + "\"text\":\" Tom\"},{\"labeler\":\"l2\",\"text\":\" Felix\"}]}\n");
        // K = 4, ranks 0 best: c2 > c0 = c3 > c1 (c0 and c3 tie). A second ranking of the same prompt, K = 2.
        Files.writeString(
                snapshot.resolve("rm.train.jsonl"),
                "{\"prompt_id\":\"p2\",\"prompt\":\"Say hi.\",\"completions\":[\"a\",\"b\",\"c\",\"d\"],"
                        + "\"rankings\":[{\"labeler\":\"l1\",\"completions\":[0,1,2,3],\"ranks\":[1,2,0,1]},"
                        + "{\"labeler\":\"l2\",\"completions\":[3,1],\"ranks\":[1,0]}]}\n");
        Files.writeString(snapshot.resolve("rm.heldout.jsonl"), "");
        Files.writeString(snapshot.resolve("ppo.train.jsonl"), "{\"prompt_id\":\"p3\",\"prompt\":\"Why?\"}\n");
    }

    static List<JsonNode> rows(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    @Test
    void trlGetsPromptCompletionAndEveryOrderedPairOfEachRanking() throws Exception {
        Path out = tmp.resolve("trl");
        ObjectNode manifest = DatasetExport.export(snapshot, out, DatasetExport.Format.trl);

        assertThat(rows(out.resolve("sft.train.jsonl")))
                .extracting(r ->
                        r.get("prompt").asText() + "|" + r.get("completion").asText())
                .containsExactly("Name a cat.| Tom", "Name a cat.| Felix");
        List<JsonNode> pairs = rows(out.resolve("preference.train.jsonl"));
        // C(4,2) = 6 pairs less the tie, then the second ranking's one pair.
        assertThat(pairs)
                .extracting(r -> r.get("ranking").asInt() + ":"
                        + r.get("chosen").asText() + ">" + r.get("rejected").asText())
                .containsExactlyInAnyOrder("0:a>b", "0:c>a", "0:c>b", "0:c>d", "0:d>b", "1:b>d");
        assertThat(pairs).allSatisfy(p -> {
            assertThat(p.get("prompt").asText()).isEqualTo("Say hi.");
            assertThat(p.get("prompt_id").asText()).isEqualTo("p2");
        });
        assertThat(rows(out.resolve("prompts.train.jsonl")).get(0).get("prompt").asText())
                .isEqualTo("Why?");
        assertThat(manifest.get("snapshot").get("id").asText()).isEqualTo("snap-3");
        assertThat(manifest.get("snapshot").get("content_sha256").asText()).isEqualTo("abc");
        assertThat(manifest.get("counts").get("train").get("preference").asInt())
                .isEqualTo(6);
        assertThat(JSON.readTree(out.resolve("manifest.json").toFile())).isEqualTo(manifest);
    }

    @Test
    void openRlhfGetsItsDefaultKeys() throws Exception {
        Path out = tmp.resolve("openrlhf");
        ObjectNode manifest = DatasetExport.export(snapshot, out, DatasetExport.Format.openrlhf);
        JsonNode sft = rows(out.resolve("sft.train.jsonl")).get(0);
        assertThat(sft.get("input").asText()).isEqualTo("Name a cat.");
        assertThat(sft.get("output").asText()).isEqualTo(" Tom");
        assertThat(rows(out.resolve("prompts.train.jsonl")).get(0).get("input").asText())
                .isEqualTo("Why?");
        assertThat(rows(out.resolve("preference.train.jsonl")).get(0).fieldNames())
                .toIterable()
                .contains("prompt", "chosen", "rejected");
        assertThat(manifest.get("trainer_flags").toString()).contains("--input_key input --output_key output");
    }

    @Test
    void aBrokenSnapshotIsRefusedNamingTheLineAndNothingIsWritten() throws Exception {
        Files.writeString(snapshot.resolve("ppo.train.jsonl"), "{\"prompt\":\"ok\"}\n{not json\n");
        assertThatThrownBy(() -> DatasetExport.export(snapshot, tmp.resolve("x"), DatasetExport.Format.trl))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("ppo.train.jsonl:2");
        assertThat(tmp.resolve("x")).doesNotExist();
        assertThatThrownBy(() -> DatasetExport.export(tmp, tmp.resolve("x"), DatasetExport.Format.trl))
                .hasMessageContaining("not a snapshot");
    }
}
