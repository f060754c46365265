package io.rlhf4j.serving.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A closed-loop load generator for {@code /v1/completions} or {@code /v1/chat/completions}:
 * {@code concurrency} clients each send
 * streamed requests back to back until {@code requests} have been sent, measuring time to first token
 * (first chunk carrying a token), whole-request latency, aggregate generated tokens per second, and
 * the decode time per token after the first (first to last token chunk, over the tokens between).
 * Loopback only: it targets the server this process started.
 */
public final class LoadGenerator {

    /** One level's figures. */
    public record Result(
            int concurrency,
            int requests,
            int failures,
            long tokens,
            double seconds,
            double ttftP50,
            double ttftP99,
            double latencyP50,
            double latencyP99,
            double decodeMsPerToken,
            double longestGapMs) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    /** Which API the clients speak. */
    public enum Endpoint {
        COMPLETIONS("/v1/completions"),
        CHAT("/v1/chat/completions");

        final String path;

        Endpoint(String path) {
            this.path = path;
        }
    }

    /** Log-likelihood scoring's figures: prompts scored per second, and per request. */
    public record Scoring(int prompts, int batch, double seconds, double latencyP50) {
        public double promptsPerSecond() {
            return prompts / seconds;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;

    public LoadGenerator(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    public Result run(int concurrency, int requests, List<String> prompts, int maxTokens) throws Exception {
        return run(Endpoint.COMPLETIONS, concurrency, requests, prompts, maxTokens);
    }

    /**
     * Scores {@code prompts} as lm-evaluation-harness's {@code local-completions} does: token-id
     * prompts, {@code batch} to a request, {@code echo} with {@code logprobs: 1} and one new token,
     * greedy; one client, requests back to back.
     */
    public Scoring score(List<int[]> prompts, int batch) throws Exception {
        long[] latency = new long[(prompts.size() + batch - 1) / batch];
        long start = System.nanoTime();
        for (int from = 0, i = 0; from < prompts.size(); from += batch, i++) {
            List<int[]> group = prompts.subList(from, Math.min(prompts.size(), from + batch));
            String body = JSON.writeValueAsString(java.util.Map.of(
                    "prompt", group, "echo", true, "logprobs", 1, "max_tokens", 1, "temperature", 0, "seed", 1234));
            long t0 = System.nanoTime();
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(base + Endpoint.COMPLETIONS.path))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("scoring request failed: " + r.statusCode() + " " + r.body());
            }
            JsonNode choices = JSON.readTree(r.body()).path("choices");
            for (int c = 0; c < group.size(); c++) {
                if (choices.path(c).path("logprobs").path("token_logprobs").size() != group.get(c).length + 1) {
                    throw new IllegalStateException("prompt " + (from + c) + " came back unscored");
                }
            }
            latency[i] = System.nanoTime() - t0;
        }
        return new Scoring(prompts.size(), batch, (System.nanoTime() - start) / 1e9, percentile(latency, 0.5));
    }

    public Result run(Endpoint endpoint, int concurrency, int requests, List<String> prompts, int maxTokens)
            throws Exception {
        URI url = URI.create(base + endpoint.path);
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        long[] ttft = new long[requests];
        long[] lastToken = new long[requests];
        long[] gap = new long[requests];
        long[] latency = new long[requests];
        long[] tokens = new long[requests];
        boolean[] failed = new boolean[requests];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        long start = System.nanoTime();
        List<Future<?>> clients = new ArrayList<>();
        for (int c = 0; c < concurrency; c++) {
            clients.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < requests; ) {
                    String text = JSON.writeValueAsString(prompts.get(i % prompts.size()));
                    String body = (endpoint == Endpoint.CHAT
                                    ? "{\"messages\":[{\"role\":\"user\",\"content\":" + text + "}],\"logprobs\":true"
                                    : "{\"prompt\":" + text + ",\"logprobs\":0")
                            + ",\"max_tokens\":" + maxTokens + ",\"temperature\":0.8,\"seed\":" + i
                            + ",\"stream\":true,\"user\":\"bench\"}";
                    long t0 = System.nanoTime();
                    try {
                        HttpResponse<InputStream> r = http.send(
                                HttpRequest.newBuilder(url)
                                        .header("content-type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(body))
                                        .build(),
                                HttpResponse.BodyHandlers.ofInputStream());
                        if (r.statusCode() != 200) {
                            failed[i] = true;
                            r.body().close();
                            continue;
                        }
                        try (BufferedReader in =
                                new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                            for (String line; (line = in.readLine()) != null; ) {
                                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                                    continue;
                                }
                                JsonNode chunk = JSON.readTree(line.substring(6));
                                // With logprobs on, every generated token arrives as a chunk that lists it.
                                JsonNode lp = chunk.path("choices").path(0).path("logprobs");
                                int n = endpoint == Endpoint.CHAT
                                        ? lp.path("content").size()
                                        : lp.path("tokens").size();
                                if (n > 0) {
                                    long now = System.nanoTime() - t0;
                                    // A stream's longest wait between tokens: what a stall in it costs.
                                    gap[i] = lastToken[i] > 0 ? Math.max(gap[i], now - lastToken[i]) : 0;
                                    lastToken[i] = now;
                                    ttft[i] = ttft[i] == 0 ? lastToken[i] : ttft[i];
                                }
                                tokens[i] += n;
                            }
                        }
                        latency[i] = System.nanoTime() - t0;
                    } catch (Exception e) {
                        failed[i] = true;
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : clients) {
            f.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        int failures = 0;
        double decodeNanos = 0;
        long decodeTokens = 0;
        for (int i = 0; i < requests; i++) {
            failures += failed[i] ? 1 : 0;
            if (!failed[i] && tokens[i] > 1) {
                decodeNanos += lastToken[i] - ttft[i];
                decodeTokens += tokens[i] - 1;
            }
        }
        return new Result(
                concurrency,
                requests,
                failures,
                Arrays.stream(tokens).sum(),
                seconds,
                percentile(ttft, 0.5),
                percentile(ttft, 0.99),
                percentile(latency, 0.5),
                percentile(latency, 0.99),
                decodeTokens == 0 ? Double.NaN : decodeNanos / decodeTokens / 1e6,
                Arrays.stream(gap).max().orElse(0) / 1e6);
    }

    /** In milliseconds, over the requests that completed. */
    private static double percentile(long[] nanos, double q) {
        long[] done = Arrays.stream(nanos).filter(x -> x > 0).sorted().toArray();
        if (done.length == 0) {
            return Double.NaN;
        }
        return done[(int) Math.min(done.length - 1, Math.floor(q * done.length))] / 1e6;
    }
}
