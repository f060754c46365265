package io.rlhf4j.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SeedImporterTest {

    @TempDir
    Path tmp;

    @Test
    void jsonlRankingsWithTiesAndDemonstrationsImport() throws Exception {
        Path rankings = tmp.resolve("r.jsonl");
        Files.writeString(rankings, """
                {"prompt": "Define dog.", "completions": ["a domestic canine", "an animal", "a cat"]}
                {"prompt": "Antonym of hot?", "completions": ["cold", "chilly", "warm", "tepid"], "ranks": [0, 1, 2, 2]}
                """);
        Path demos = tmp.resolve("d.jsonl");
        Files.writeString(demos, "{\"prompt\": \"Synonym of big?\", \"completion\": \"large\"}\n");
        try (Store store = Store.openSqlite(tmp.resolve("db"))) {
            SeedImporter.Summary r = SeedImporter.rankings(store, rankings);
            assertThat(r.rankings()).isEqualTo(2);
            assertThat(r.completions()).isEqualTo(7);
            SeedImporter.Summary d = SeedImporter.demonstrations(store, demos);
            assertThat(d.demonstrations()).isEqualTo(1);
            List<Judgement.Ranking> stored = store.judgements().rankings();
            Judgement.Ranking antonym = stored.stream()
                    .filter(x -> x.ranks().length == 4)
                    .findFirst()
                    .orElseThrow();
            assertThat(antonym.ranks()).containsExactly(0, 1, 2, 2);
            assertThat(store.judgements().demonstrations().get(0).text()).isEqualTo("large");
            assertThat(store.prompts().recent(10)).allMatch(p -> p.source().equals("import"));
            // The same file again is refused in one piece, and nothing doubles.
            assertThatThrownBy(() -> SeedImporter.rankings(store, rankings)).hasMessageContaining("already imported");
            assertThat(store.judgements().rankings()).hasSize(2);
        }
    }

    @Test
    void badRankingsAreRefusedBeforeAnythingIsWritten() throws Exception {
        Path rankings = tmp.resolve("bad.jsonl");
        Files.writeString(rankings, """
                {"prompt": "fine", "completions": ["a", "b"]}
                {"prompt": "one only", "completions": ["a"]}
                """);
        Path many = tmp.resolve("many.jsonl");
        Files.writeString(many, "{\"prompt\": \"x\", \"completions\": [" + "\"c\",".repeat(12) + "\"c\"]}\n");
        Path garbage = tmp.resolve("garbage.jsonl");
        Files.writeString(garbage, "{\"prompt\": \"x\", \"completions\": [\"a\", \"b\"]}\n{oops\n");
        try (Store store = Store.openSqlite(tmp.resolve("db"))) {
            assertThatThrownBy(() -> SeedImporter.rankings(store, rankings))
                    .hasMessageContaining("bad.jsonl: line 2")
                    .hasMessageContaining("K = 2..12");
            assertThatThrownBy(() -> SeedImporter.rankings(store, many)).hasMessageContaining("K = 13");
            assertThatThrownBy(() -> SeedImporter.rankings(store, garbage))
                    .hasMessageContaining("line 2")
                    .hasMessageContaining("not valid JSON");
            assertThat(store.prompts().count()).isZero();
            // A ranking that names a completion the prompt never had is refused by the store.
            store.prompts()
                    .log(List.of(new PromptLog(
                            "p",
                            "u",
                            true,
                            "api",
                            "q",
                            "1",
                            "{}",
                            1,
                            List.of(new PromptLog.Completion(0, "a", 1, null, "stop")))));
            assertThatThrownBy(() -> store.judgements()
                            .addRanking(new Judgement.Ranking(
                                    "r", "p", "l", List.of(0, 5), new int[] {0, 1}, "labeling", 2)))
                    .hasMessageContaining("has no completion 5");
            assertThatThrownBy(() -> store.judgements()
                            .addRanking(new Judgement.Ranking(
                                    "r", "nope", "l", List.of(0, 1), new int[] {0, 1}, "labeling", 2)))
                    .hasMessageContaining("no prompt nope");
            assertThat(store.judgements().rankings()).isEmpty();
        }
    }

    @Test
    void theRealSeedFilesImport() throws Exception {
        Optional<Path> demos = SharedData.file("demonstrations/self_instruct_seed_tasks.jsonl");
        Optional<Path> samples = SharedData.file("instructgpt-samples/truthful_qa_samples.csv");
        assumeThat(demos).as("shared data absent: skipped").isPresent();
        assumeThat(samples).as("shared data absent: skipped").isPresent();
        try (Store store = Store.openSqlite(tmp.resolve("db"))) {
            SeedImporter.Summary d = SeedImporter.demonstrations(store, demos.get());
            assertThat(d.demonstrations()).isGreaterThanOrEqualTo(175);
            SeedImporter.Summary r = SeedImporter.rankings(store, samples.get());
            assertThat(r.prompts()).isEqualTo(100);
            assertThat(r.completions()).isEqualTo(3600);
            assertThat(r.rankings()).isBetween(250, 300);
            assertThat(store.judgements().rankings())
                    .allMatch(x -> x.completions().size() == 12);
        }
    }
}
