package io.rlhf4j.core.store;

import static io.rlhf4j.core.store.Databases.log;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Judgements and the labeling queue they define, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class JudgementRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void labelingCompletionsLabelsSkipsAndTheQueue(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            JudgementRepository judgements = store.judgements();
            store.prompts().log(List.of(log("p1", "alice", 1), log("p2", "bob", 0)));
            List<PromptLog.Completion> fresh = store.prompts()
                    .addCompletions(
                            "p1",
                            "2",
                            List.of(
                                    new PromptLog.Completion(0, "a", 1, null, "stop"),
                                    new PromptLog.Completion(0, "b", 1, null, "length")),
                            2000);
            assertThat(fresh).extracting(PromptLog.Completion::index).containsExactly(1, 2);
            assertThat(store.prompts().find("p1").orElseThrow().completions()).hasSize(3);
            assertThat(judgements.labelingCandidates("lee", 10))
                    .extracting(PromptLog::id)
                    .containsExactly("p1", "p2");

            judgements.addRanking(
                    new Judgement.Ranking("r1", "p1", "lee", List.of(0, 1, 2), new int[] {1, 0, 1}, "labeling", 3000),
                    List.of(
                            new Judgement.Label(1, 7, List.of()),
                            new Judgement.Label(2, null, List.of("hallucination", "harmful_advice"))));
            assertThat(judgements.labels("r1"))
                    .containsExactly(
                            new Judgement.Label(1, 7, List.of()),
                            new Judgement.Label(2, null, List.of("hallucination", "harmful_advice")));
            judgements.addSkip("p2", "lee", "unclear", 3000);
            judgements.addSkip("p2", "lee", "again", 3001);
            assertThat(judgements.labelingCandidates("lee", 10)).isEmpty();
            assertThat(judgements.labelingCandidates("kim", 10))
                    .extracting(PromptLog::id)
                    .containsExactly("p2");
            assertThat(judgements.count()).isEqualTo(1);
        }
    }
}
