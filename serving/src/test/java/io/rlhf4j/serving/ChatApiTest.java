package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.language.StreamingLanguageModel;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import io.rlhf4j.core.store.PromptLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code /v1/chat/completions} as the clients teams already have use it: the official openai-java
 * client and LangChain4j's OpenAI models, over real HTTP on loopback, against the demo model. The demo
 * model has no chat template, so the default one applies: a single user turn is exactly its text, and
 * the greedy reply equals the completion of that text.
 */
class ChatApiTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final String PROMPT = "dog (noun):";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;
    static String greedyCompletion;

    @BeforeAll
    static void start() throws Exception {
        app = TestServers.startDemo(tmp, null);
        base = TestServers.base(app);
        greedyCompletion = JSON.readTree(
                        post("/v1/completions", "{\"prompt\":\"" + PROMPT + "\",\"max_tokens\":12,\"temperature\":0}")
                                .body())
                .at("/choices/0/text")
                .asText();
        assertThat(greedyCompletion).isNotEmpty();
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void openAiJavaChatPlainAndStreamedWithUsageLast() {
        var client = OpenAIOkHttpClient.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .build();
        var params = ChatCompletionCreateParams.builder()
                .model("rlhf4j")
                .addSystemMessage("")
                .addUserMessage(PROMPT)
                .maxCompletionTokens(12)
                .temperature(0.0)
                .build();
        // An empty system turn and the user turn render as the user's text after a blank line: not the
        // plain prompt, so only the shape is compared here; the next request is the prompt exactly.
        assertThat(client.chat().completions().create(params).choices()).hasSize(1);
        params = ChatCompletionCreateParams.builder()
                .model("rlhf4j")
                .addUserMessage(PROMPT)
                .maxCompletionTokens(12)
                .temperature(0.0)
                .build();
        var completion = client.chat().completions().create(params);
        assertThat(completion.id()).startsWith("chatcmpl-");
        assertThat(completion.choices().get(0).message().content().orElseThrow())
                .isEqualTo(greedyCompletion);
        assertThat(completion.usage().orElseThrow().completionTokens()).isEqualTo(12);

        var streamed = new StringBuilder();
        var chunks = new ArrayList<com.openai.models.chat.completions.ChatCompletionChunk>();
        try (var stream = client.chat()
                .completions()
                .createStreaming(params.toBuilder()
                        .streamOptions(ChatCompletionStreamOptions.builder()
                                .includeUsage(true)
                                .build())
                        .build())) {
            stream.stream().forEach(chunk -> {
                chunks.add(chunk);
                chunk.choices().forEach(c -> c.delta().content().ifPresent(streamed::append));
            });
        }
        assertThat(streamed.toString()).isEqualTo(greedyCompletion);
        assertThat(chunks.get(0).choices().get(0).delta().role()).isPresent();
        var last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().orElseThrow().totalTokens())
                .isEqualTo(completion.usage().orElseThrow().totalTokens());
        assertThat(chunks.get(chunks.size() - 2).choices().get(0).finishReason())
                .isPresent();
    }

    @Test
    void langChain4jChatAndLanguageModelsPlainAndStreamed() throws Exception {
        var chat = OpenAiChatModel.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .modelName("rlhf4j")
                .temperature(0.0)
                .maxTokens(12)
                .build();
        assertThat(chat.chat(PROMPT)).isEqualTo(greedyCompletion);

        var streamingChat = OpenAiStreamingChatModel.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .modelName("rlhf4j")
                .temperature(0.0)
                .maxTokens(12)
                .build();
        var partial = new StringBuilder();
        var done = new CompletableFuture<ChatResponse>();
        streamingChat.chat(PROMPT, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String token) {
                partial.append(token);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(60, TimeUnit.SECONDS);
        assertThat(partial.toString()).isEqualTo(greedyCompletion);
        assertThat(response.aiMessage().text()).isEqualTo(greedyCompletion);
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(12);

        var language = OpenAiLanguageModel.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .modelName("rlhf4j")
                .temperature(0.0)
                .build();
        String answer = language.generate(PROMPT).content();
        // Its default is 16 new tokens against the 12 above: the same greedy text, at least as long.
        assertThat(answer).startsWith(greedyCompletion);

        StreamingLanguageModel streamingLanguage = OpenAiStreamingLanguageModel.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .modelName("rlhf4j")
                .temperature(0.0)
                .build();
        var pieces = new StringBuilder();
        var finished = new CompletableFuture<Response<String>>();
        streamingLanguage.generate(PROMPT, new StreamingResponseHandler<String>() {
            @Override
            public void onNext(String token) {
                pieces.append(token);
            }

            @Override
            public void onComplete(Response<String> r) {
                finished.complete(r);
            }

            @Override
            public void onError(Throwable error) {
                finished.completeExceptionally(error);
            }
        });
        finished.get(60, TimeUnit.SECONDS);
        assertThat(pieces.toString()).isEqualTo(answer);
    }

    @Test
    void logprobsInChatShapeAndTheConversationIsLoggedWithItsUser() throws Exception {
        HttpResponse<String> r = post(
                "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":"
                        + "[{\"type\":\"text\",\"text\":\"dog \"},{\"type\":\"text\",\"text\":\"(noun):\"}]}],"
                        + "\"max_tokens\":5,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3,\"user\":\"carol\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("object").asText()).isEqualTo("chat.completion");
        JsonNode choice = body.at("/choices/0");
        assertThat(choice.at("/message/role").asText()).isEqualTo("assistant");
        JsonNode content = choice.at("/logprobs/content");
        assertThat(content).hasSize(5);
        StringBuilder joined = new StringBuilder();
        for (JsonNode t : content) {
            joined.append(t.get("token").asText());
            assertThat(t.get("top_logprobs")).hasSize(3);
            // Greedy: the chosen token is the likeliest, so its log-prob is the top alternative's.
            assertThat(t.get("logprob").asDouble())
                    .isEqualTo(t.at("/top_logprobs/0/logprob").asDouble());
            assertThat(t.get("bytes").size()).isEqualTo(t.get("token").asText().getBytes("UTF-8").length);
        }
        assertThat(choice.at("/message/content").asText())
                .isNotEmpty()
                .isEqualTo(greedyCompletion.substring(
                        0, choice.at("/message/content").asText().length()));

        List<PromptLog> logs = app.store().prompts().recent(5);
        PromptLog carol = logs.stream()
                .filter(l -> l.userId().equals("carol"))
                .findFirst()
                .orElseThrow();
        assertThat(carol.text()).isEqualTo(PROMPT);
        assertThat(carol.messages()).containsExactly(io.rlhf4j.core.chat.ChatMessage.user(PROMPT));
        assertThat(carol.completions().get(0).text())
                .isEqualTo(choice.at("/message/content").asText());
    }

    @Test
    void aStreamOpensWithTheRoleAndEndsWithTheFinishReasonThenDone() throws Exception {
        HttpResponse<String> r = post(
                "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\""
                        + "cat (noun):\"}],\"max_tokens\":6,\"n\":2,\"stream\":true}");
        assertThat(r.statusCode()).isEqualTo(200);
        List<JsonNode> events = new ArrayList<>();
        String[] lines = r.body().split("\n\n");
        assertThat(lines[lines.length - 1]).isEqualTo("data: [DONE]");
        for (int i = 0; i < lines.length - 1; i++) {
            events.add(JSON.readTree(lines[i].substring("data: ".length())));
        }
        for (int index = 0; index < 2; index++) {
            int c = index;
            List<JsonNode> mine = events.stream()
                    .map(e -> e.at("/choices/0"))
                    .filter(e -> e.get("index").asInt() == c)
                    .toList();
            assertThat(mine.get(0).at("/delta/role").asText()).isEqualTo("assistant");
            assertThat(mine.get(mine.size() - 1).get("finish_reason").asText()).isIn("stop", "length");
            assertThat(mine.subList(0, mine.size() - 1))
                    .allMatch(e -> e.get("finish_reason").isNull());
        }
        assertThat(events).allMatch(e -> e.get("object").asText().equals("chat.completion.chunk"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            value = {
                "messages | {\"max_tokens\":3}",
                "messages | {\"messages\":[]}",
                "messages[0].role | {\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
                "messages[0].content | {\"messages\":[{\"role\":\"user\"}]}",
                "messages[0].content | {\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}",
                "top_logprobs | {\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}",
                "top_logprobs | {\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":21}",
                "stream_options | {\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}",
                "max_completion_tokens | {\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":-2}"
            })
    void eachInvalidFieldIsA400NamingIt(String param, String body) throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("param").asText()).isEqualTo(param);
    }

    @Test
    void aConversationLongerThanTheWindowIsA400() throws Exception {
        String words = "tree ".repeat(2000);
        HttpResponse<String> r =
                post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(r.body()).at("/error/param").asText()).isEqualTo("messages");
        assertThat(JSON.readTree(r.body()).at("/error/message").asText()).contains("context window");
    }
}
