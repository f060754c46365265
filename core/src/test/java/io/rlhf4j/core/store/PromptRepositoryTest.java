package io.rlhf4j.core.store;

import static io.rlhf4j.core.store.Databases.log;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.core.chat.ChatMessage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The prompt log and its group-commit writer, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class PromptRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void promptsWithUserIdsAndCompletionsRoundTrip(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            PromptRepository prompts = store.prompts();
            prompts.log(List.of(log("p1", "alice", 4), log("p2", "bob", 1)));
            List<PromptLog> read = prompts.recent(10);
            assertThat(read).hasSize(2);
            PromptLog alice = read.stream()
                    .filter(p -> p.userId().equals("alice"))
                    .findFirst()
                    .orElseThrow();
            assertThat(alice.completions()).hasSize(4);
            assertThat(alice.completions().get(2).logprobs()).containsExactly(-0.5f, -1.25f, -2f);
            assertThat(alice.consent()).isTrue();
            assertThat(alice.paramsJson()).isEqualTo("{\"temperature\":0.7}");
            assertThat(prompts.count()).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aChatPromptKeepsItsConversationBesideTheRenderedText(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            PromptLog text = log("p1", "alice", 1);
            List<ChatMessage> turns = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi \u00e9\u0000"));
            PromptLog chat = new PromptLog(
                    "p2", "bob", true, "api", "Be brief.\n\nHi", "1", "{}", 2L, text.completions(), turns);
            store.prompts().log(List.of(text, chat));
            assertThat(store.prompts().find("p2").orElseThrow().messages()).isEqualTo(turns);
            assertThat(store.prompts().find("p1").orElseThrow().messages()).isEmpty();
            assertThat(store.prompts().recent(10))
                    .filteredOn(p -> p.id().equals("p2"))
                    .singleElement()
                    .extracting(PromptLog::messages)
                    .isEqualTo(turns);
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aFailedBatchStoresNothingAndLosesNothingAlreadyStored(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            PromptRepository prompts = store.prompts();
            prompts.log(List.of(log("p1", "alice", 1)));
            // p1 again violates the primary key: the whole batch rolls back.
            assertThatThrownBy(() -> prompts.log(List.of(log("p2", "bob", 1), log("p1", "carol", 1))))
                    .isInstanceOf(Store.StoreException.class);
            assertThat(prompts.count()).isEqualTo(1);
            assertThat(prompts.recent(10).get(0).userId()).isEqualTo("alice");
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void theLogWriterCommitsConcurrentRequestsInGroups(String kind) throws Exception {
        try (Store store = Databases.open(kind, tmp);
                LogWriter writer = new LogWriter(store, 1000, 64)) {
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                acks.add(writer.submit(log("req-" + i, "user-" + (i % 7), 2)));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get();
            // Acknowledged means stored.
            assertThat(store.prompts().count()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aBadLogFailsAloneAndNulCharactersAreStored(String kind) throws Exception {
        try (Store store = Databases.open(kind, tmp);
                LogWriter writer = new LogWriter(store, 100, 64)) {
            store.prompts().log(List.of(log("taken", "alice", 1)));
            PromptLog nul = new PromptLog(
                    "nul",
                    "bob",
                    true,
                    "api",
                    "a\u0000b",
                    "1",
                    "{}",
                    5,
                    List.of(new PromptLog.Completion(0, "x\u0000", 1, null, "stop")));
            CompletableFuture<Void> good = writer.submit(log("fresh", "carol", 1));
            CompletableFuture<Void> bad = writer.submit(log("taken", "mallory", 1));
            CompletableFuture<Void> withNul = writer.submit(nul);
            good.get();
            withNul.get();
            assertThatThrownBy(bad::get).hasCauseInstanceOf(Store.StoreException.class);
            assertThat(store.prompts().count()).isEqualTo(3);
            PromptLog stored = store.prompts().recent(10).stream()
                    .filter(p -> p.id().equals("nul"))
                    .findFirst()
                    .orElseThrow();
            assertThat(stored.text()).isEqualTo("a\uFFFDb");
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void freshCompletionsContinueThePromptsIndexes(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            PromptRepository prompts = store.prompts();
            prompts.log(List.of(log("p1", "alice", 1)));
            List<PromptLog.Completion> fresh = prompts.addCompletions(
                    "p1",
                    "2",
                    List.of(
                            new PromptLog.Completion(0, "a", 1, null, "stop"),
                            new PromptLog.Completion(0, "b", 1, null, "length")),
                    2000);
            assertThat(fresh).extracting(PromptLog.Completion::index).containsExactly(1, 2);
            assertThat(prompts.find("p1").orElseThrow().completions())
                    .extracting(PromptLog.Completion::index, PromptLog.Completion::finishReason)
                    .containsExactly(Tuple.tuple(0, "stop"), Tuple.tuple(1, "stop"), Tuple.tuple(2, "length"));
            assertThat(prompts.find("p9")).isEmpty();
            assertThatThrownBy(() -> prompts.addCompletions("p9", "2", List.of(), 2000))
                    .hasMessageContaining("no prompt p9");
        }
    }
}
