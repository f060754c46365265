package io.rlhf4j.core.store;

import static io.rlhf4j.core.store.Databases.log;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Consent to training and deleting a user, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class ConsentRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void anOptOutCoversPastAndFuturePromptsAndDeletionTakesEverythingOfTheUser(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            ConsentRepository consent = store.consent();
            store.prompts().log(List.of(log("p1", "alice", 2), log("p2", "bob", 2)));
            assertThat(consent.given("alice")).isTrue();
            assertThat(consent.set("alice", false, 2000)).isEqualTo(1);
            store.prompts().log(List.of(log("p3", "alice", 0)));
            assertThat(store.prompts().recent(10))
                    .filteredOn(p -> p.userId().equals("alice"))
                    .extracting(PromptLog::consent)
                    .containsOnly(false);
            assertThat(store.judgements().labelingCandidates("lee", 10))
                    .extracting(PromptLog::id)
                    .containsExactly("p2");
            assertThat(consent.set("alice", true, 3000)).isEqualTo(2);

            store.judgements()
                    .addRanking(
                            new Judgement.Ranking("r1", "p1", "lee", List.of(0, 1), new int[] {0, 1}, "labeling", 1),
                            List.of(new Judgement.Label(0, 5, List.of())));
            store.judgements()
                    .addDemonstration(new Judgement.Demonstration("d1", "p3", "lee", "an answer", "labeling", 1));
            store.judgements()
                    .addRanking(
                            new Judgement.Ranking("r2", "p2", "lee", List.of(0, 1), new int[] {1, 0}, "labeling", 1));
            ConsentRepository.Deletion d = consent.deleteUser("alice", 5000);
            assertThat(d).isEqualTo(new ConsentRepository.Deletion("alice", 2, 2, 1, 1));
            assertThat(store.prompts().recent(10)).extracting(PromptLog::userId).containsExactly("bob");
            assertThat(store.judgements().rankings())
                    .extracting(Judgement.Ranking::id)
                    .containsExactly("r2");
            assertThat(store.judgements().demonstrations()).isEmpty();
            assertThat(consent.given("alice"))
                    .as("a deleted user is a stranger again")
                    .isTrue();
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void optingBackInDoesNotOverrideARequestThatSaidNo(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            PromptLog said = log("p1", "dana", 0);
            PromptLog no = new PromptLog("p2", "dana", false, "api", "private", "1", "{}", 1000, List.of());
            store.prompts().log(List.of(said, no));
            store.consent().set("dana", false, 2000);
            store.consent().set("dana", true, 3000);
            assertThat(store.prompts().recent(10))
                    .extracting(PromptLog::id, PromptLog::consent)
                    .containsExactlyInAnyOrder(Tuple.tuple("p1", true), Tuple.tuple("p2", false));
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aDeletionStaysDeletedRevokesTheUsersKeysAndKeepsAnOptOut(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            ConsentRepository consent = store.consent();
            store.keys().create(new ApiKey(ApiKey.hash("rk-f"), "rk-f", "fay", "user", false, 60, 0L, null));
            store.keys().create(new ApiKey(ApiKey.hash("rk-g"), "rk-g", "gus", "user", false, 60, 0L, null));
            store.prompts().log(List.of(log("f1", "fay", 0), log("g1", "gus", 0)));
            consent.set("gus", false, 500);
            PromptLog inFlight = new PromptLog("f2", "fay", true, "api", "sent before", "1", "{}", 900, List.of());
            consent.deleteUser("fay", 1000);
            consent.deleteUser("gus", 1000);

            assertThat(store.prompts().log(List.of(inFlight)))
                    .as("a log from before the deletion that commits after it is not written")
                    .isZero();
            PromptLog later = new PromptLog("f3", "fay", true, "api", "sent after", "1", "{}", 1001, List.of());
            assertThat(store.prompts().log(List.of(later))).isEqualTo(1);
            assertThat(store.prompts().recent(10)).extracting(PromptLog::id).containsExactly("f3");
            assertThat(consent.deletedAt("fay")).hasValue(1000L);
            assertThat(store.keys().find(ApiKey.hash("rk-f")).orElseThrow().revoked())
                    .isTrue();
            assertThat(store.keys().countActive()).isZero();
            assertThat(consent.given("gus"))
                    .as("an opt-out outlives the deletion")
                    .isFalse();
            store.prompts().log(List.of(new PromptLog("g2", "gus", true, "api", "after", "1", "{}", 2000, List.of())));
            assertThat(store.prompts().find("g2").orElseThrow().consent()).isFalse();
            assertThat(consent.deletedSince(1000)).containsOnlyKeys("fay", "gus");
            assertThat(consent.deletedSince(1001)).isEmpty();
        }
    }
}
