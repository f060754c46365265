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
 * A closed-loop load generator for {@code /v1/completions}: {@code concurrency} clients each send
 * streamed requests back to back until {@code requests} have been sent, measuring time to first token
 * (first chunk carrying a token), whole-request latency, aggregate generated tokens per second, and
 * the decode time per token after the first (first to last token chunk, over the tokens between).
 * Loopback only: it targets the server this process started.
 */
public final class LoadGenerator {

    /** One level's figures. */
    public record Result(int concurrency, int requests, int failures, long tokens, double seconds, double ttftP50,
            double ttftP99, double latencyP50, double latencyP99, double decodeMsPerToken) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String url;

    public LoadGenerator(int port) {
        this.url = "http://127.0.0.1:" + port + "/v1/completions";
    }

    public Result run(int concurrency, int requests, List<String> prompts, int maxTokens) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        long[] ttft = new long[requests];
        long[] lastToken = new long[requests];
        long[] latency = new long[requests];
        long[] tokens = new long[requests];
        boolean[] failed = new boolean[requests];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        long start = System.nanoTime();
        List<Future<?>> clients = new ArrayList<>();
        for (int c = 0; c < concurrency; c++) {
            clients.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < requests; ) {
                    String body = "{\"prompt\":" + JSON.writeValueAsString(prompts.get(i % prompts.size()))
                            + ",\"max_tokens\":" + maxTokens + ",\"temperature\":0.8,\"seed\":" + i
                            + ",\"stream\":true,\"logprobs\":0,\"user\":\"bench\"}";
                    long t0 = System.nanoTime();
                    try {
                        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(url))
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.ofInputStream());
                        if (r.statusCode() != 200) {
                            failed[i] = true;
                            r.body().close();
                            continue;
                        }
                        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                            for (String line; (line = in.readLine()) != null; ) {
                                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                                    continue;
                                }
                                JsonNode chunk = JSON.readTree(line.substring(6));
                                // With logprobs on, every generated token arrives as a chunk that lists it.
                                int n = chunk.path("choices").path(0).path("logprobs").path("tokens").size();
                                if (n > 0) {
                                    lastToken[i] = System.nanoTime() - t0;
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
        return new Result(concurrency, requests, failures, Arrays.stream(tokens).sum(), seconds,
                percentile(ttft, 0.5), percentile(ttft, 0.99), percentile(latency, 0.5), percentile(latency, 0.99),
                decodeTokens == 0 ? Double.NaN : decodeNanos / decodeTokens / 1e6);
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
