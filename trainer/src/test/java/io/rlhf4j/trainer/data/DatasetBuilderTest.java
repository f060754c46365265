package io.rlhf4j.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetBuilderTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static PromptLog prompt(String id, String user, boolean consent, String text, long at, int completions) {
        List<PromptLog.Completion> cs = new ArrayList<>();
        for (int i = 0; i < completions; i++) {
            cs.add(new PromptLog.Completion(i, "answer " + i, 2, null, "stop"));
        }
        return new PromptLog(id, user, consent, "api", text, "1", "{}", at, cs);
    }

    @Test
    void consentPrefixDedupUserCapSplitsByUserAndDisjointSets() throws Exception {
        try (Store store = Store.openSqlite(tmp.resolve("db"))) {
            List<PromptLog> logs = new ArrayList<>();
            long t = 0;
            for (int u = 0; u < 40; u++) {
                for (int i = 0; i < 6; i++) {
                    logs.add(prompt(
                            "u" + u + "p" + i,
                            "user-" + u,
                            u != 7,
                            "Question " + u + "-" + i + ": what is the meaning of word number " + (u * 10 + i) + "?",
                            t++,
                            2));
                }
            }
            // Shares its first 40 characters with u0p0, comes later: dropped.
            logs.add(prompt(
                    "dup", "user-99", true, "Question 0-0: what is the meaning of word number 0? really", t++, 0));
            // One chatty user over the cap of 3.
            for (int i = 0; i < 5; i++) {
                logs.add(prompt(
                        "chatty" + i,
                        "chatty",
                        true,
                        "Chatty prompt number " + i + " about nothing in particular",
                        t++,
                        0));
            }
            store.prompts().log(logs);
            for (int u = 0; u < 40; u += 2) {
                store.judgements()
                        .addDemonstration(
                                new Judgement.Demonstration("d" + u, "u" + u + "p0", "lab", "demo", "labeling", 1));
                store.judgements()
                        .addRanking(new Judgement.Ranking(
                                "r" + u, "u" + u + "p1", "lab", List.of(0, 1), new int[] {0, 1}, "labeling", 1));
            }
            // A prompt with both: it goes to one set only (RM).
            store.judgements()
                    .addDemonstration(new Judgement.Demonstration("both", "u0p1", "lab", "demo", "labeling", 1));

            ObjectNode m = DatasetBuilder.build(
                    store,
                    tmp.resolve("snapshots"),
                    new DatasetBuilder.Options(40, 3, io.rlhf4j.core.loop.SplitPolicy.DEFAULT, ""));
            assertThat(m.get("id").asText()).isEqualTo("snap-1");
            assertThat(m.get("dropped").get("no_consent").asInt()).isEqualTo(6);
            assertThat(m.get("dropped").get("shared_prefix").asInt()).isEqualTo(1);
            // 39 consenting users keep 3 of 6, the chatty one 3 of 5.
            assertThat(m.get("dropped").get("over_user_cap").asInt()).isEqualTo(39 * 3 + 2);

            Path dir = tmp.resolve("snapshots").resolve("snap-1");
            Map<String, String> userSplit = new HashMap<>();
            Set<String> seen = new HashSet<>();
            int total = 0;
            for (String set : DatasetBuilder.SETS) {
                for (String split : DatasetBuilder.SPLITS) {
                    for (String line : Files.readAllLines(dir.resolve(set + "." + split + ".jsonl"))) {
                        JsonNode row = JSON.readTree(line);
                        String prev = userSplit.put(row.get("user_id").asText(), split);
                        assertThat(prev == null || prev.equals(split))
                                .as("a user stays in one split")
                                .isTrue();
                        assertThat(seen.add(row.get("prompt_id").asText()))
                                .as("prompt sets are disjoint")
                                .isTrue();
                        total++;
                    }
                }
            }
            assertThat(total).isEqualTo(39 * 3 + 3);
            // The index answers lineage questions without reading the rows.
            assertThat(io.rlhf4j.core.loop.SnapshotIndex.read(dir).users())
                    .containsExactlyElementsOf(new java.util.TreeSet<>(userSplit.keySet()));
            String someone = userSplit.keySet().iterator().next();
            assertThat(io.rlhf4j.core.loop.SnapshotIndex.holding(tmp.resolve("snapshots"), someone))
                    .containsExactly("snap-1");
            assertThat(io.rlhf4j.core.loop.SnapshotIndex.holding(tmp.resolve("snapshots"), "nobody"))
                    .isEmpty();
            assertThat(m.get("counts").get("rm").get("train").asInt()
                            + m.get("counts").get("rm").get("validation").asInt()
                            + m.get("counts").get("rm").get("test").asInt())
                    .isEqualTo(20);
            assertThat(new HashSet<>(userSplit.values())).containsExactlyInAnyOrder("train", "validation", "test");
            assertThat(JSON.readTree(dir.resolve("manifest.json").toFile())
                            .get("content_sha256")
                            .asText())
                    .hasSize(64);

            // Snapshots are immutable: the next build is a new directory.
            assertThat(DatasetBuilder.build(store, tmp.resolve("snapshots"), DatasetBuilder.Options.defaults())
                            .get("id")
                            .asText())
                    .isEqualTo("snap-2");
            assertThat(dir.resolve("manifest.json")).exists();
        }
    }

    @Test
    void concurrentBuildersNeverClaimTheSameSnapshotId() throws Exception {
        Path snapshots = Files.createDirectories(tmp.resolve("claims"));
        Files.createDirectories(snapshots.resolve("snap-3")); // an existing snapshot: ids continue after it
        var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        List<java.util.concurrent.Future<String>> claims = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            claims.add(pool.submit(() -> DatasetBuilder.claimId(snapshots)));
        }
        Set<String> ids = new HashSet<>();
        for (var c : claims) {
            ids.add(c.get());
        }
        pool.shutdown();
        assertThat(ids).hasSize(64).doesNotContain("snap-1", "snap-2", "snap-3").contains("snap-4", "snap-67");
    }
}
