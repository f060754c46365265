package io.rlhf4j.clients.cli;

import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.serving.bench.LoadGenerator;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code bench --suite serve} for one model: rlhf4j serve over loopback under 1, 8 and 32 streaming
 * clients, then the rows that need a long context (decode cost by prompt length, a shared system
 * prompt with and without the prefix cache), chat against completions, and log-likelihood requests.
 */
final class ServeBench {

    /** The serve suite's prompts: short WordNet-style openings, as the demo world's users send them. */
    static final List<String> SERVE_PROMPTS = List.of(
            "dog (noun):",
            "happy (adjective):",
            "run (verb):",
            "a small",
            "tree (noun): a tall",
            "to eat (verb):",
            "red (adjective): the colour",
            "music (noun):");

    /** Prompt lengths, in tokens with BOS, of the serve suite's decode-cost-by-prompt-length row. */
    static final int SHORT_PROMPT = 64;

    static final int LONG_PROMPT = 900;

    /** Tokens of the shared system prompt in the prefix-caching row. */
    static final int SYSTEM_PROMPT = 500;

    private final PrintStream out;
    private final int newTokens;

    ServeBench(PrintStream out, int newTokens) {
        this.out = out;
        this.newTokens = newTokens;
    }

    void run(String name, Path checkpoint, Path work) throws Exception {
        Path export = work.resolve("export");
        new io.rlhf4j.exporter.Exporter(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new io.rlhf4j.exporter.Exporter.Options(
                        checkpoint, export, false, false, 1e-4, 2, 1L << 30, false));
        io.rlhf4j.serving.ServingApp.Config config = io.rlhf4j.serving.ServingApp.Config.defaults(work.resolve("data"))
                .withPort(0)
                .withLimits(32, 1024);
        List<String> prompts = SERVE_PROMPTS;
        try (io.rlhf4j.serving.ServingApp app = io.rlhf4j.serving.ServingApp.start(config)) {
            app.registerAndActivate(export);
            LoadGenerator load = new LoadGenerator(app.port());
            load.run(2, 4, prompts, 8); // warm-up
            out.printf(
                    "%s%n  %-11s %8s %10s %12s %12s %12s %12s %8s%n",
                    name,
                    "concurrency",
                    "requests",
                    "tokens/s",
                    "TTFT p50 ms",
                    "TTFT p99 ms",
                    "lat p50 ms",
                    "lat p99 ms",
                    "failed");
            double single = 0;
            for (int c : new int[] {1, 8, 32}) {
                LoadGenerator.Result r = load.run(c, Math.max(8, 2 * c), prompts, newTokens);
                if (c == 1) {
                    single = r.tokensPerSecond();
                }
                out.printf(
                        "  %-11d %8d %10.1f %12.1f %12.1f %12.1f %12.1f %8d%n",
                        c,
                        r.requests(),
                        r.tokensPerSecond(),
                        r.ttftP50(),
                        r.ttftP99(),
                        r.latencyP50(),
                        r.latencyP99(),
                        r.failures());
                if (c > 1) {
                    out.printf("  concurrency %d / 1 aggregate tokens/s: %.1fx%n", c, r.tokensPerSecond() / single);
                }
            }
            decodeByPromptLength(checkpoint, load);
            sharedSystemPrompt(checkpoint, load);
            // Warm the chat path first (the template engine loads on first use), then measure both.
            load.run(LoadGenerator.Endpoint.CHAT, 8, 16, prompts, 8);
            LoadGenerator.Result chat = load.run(LoadGenerator.Endpoint.CHAT, 8, 48, prompts, newTokens);
            LoadGenerator.Result plain = load.run(8, 48, prompts, newTokens);
            out.printf(
                    "  chat vs completions, 8 streams, 48 requests each: %.1f vs %.1f tokens/s (%.2fx); "
                            + "TTFT p50 %.1f vs %.1f ms; failed %d + %d%n",
                    chat.tokensPerSecond(),
                    plain.tokensPerSecond(),
                    chat.tokensPerSecond() / plain.tokensPerSecond(),
                    chat.ttftP50(),
                    plain.ttftP50(),
                    chat.failures(),
                    plain.failures());
            logLikelihood(checkpoint, load);
        }
        longPromptsAmongStreams(checkpoint, export, work);
    }

    /** lm-eval's log-likelihood requests: 64-token prompts scored, one at a time and batched as it batches. */
    private void logLikelihood(Path checkpoint, LoadGenerator load) throws Exception {
        Tokenizer tok = io.rlhf4j.core.tokenizer.Tokenizers.load(checkpoint);
        int[] ids = tok.encode(promptOf(tok, SHORT_PROMPT), true);
        List<int[]> prompts = new java.util.ArrayList<>();
        for (int i = 0; i < 32; i++) {
            int[] p = ids.clone();
            p[p.length - 1 - (i % (p.length - 1))] = ids[(i * 7) % ids.length]; // 32 distinct prompts
            prompts.add(p);
        }
        LoadGenerator.Scoring one = load.score(prompts, 1);
        LoadGenerator.Scoring eight = load.score(prompts, 8);
        out.printf(
                "  log-likelihood (echo, logprobs 1, %d-token prompts, %d prompts): %.1f prompts/s one to "
                        + "a request (p50 %.1f ms), %.1f prompts/s eight to a request (p50 %.1f ms, %.2fx)%n",
                ids.length,
                prompts.size(),
                one.promptsPerSecond(),
                one.latencyP50(),
                eight.promptsPerSecond(),
                eight.latencyP50(),
                eight.promptsPerSecond() / one.promptsPerSecond());
    }

    /** Decode time per token after the first, one stream, a short and a long prompt, same server. */
    private void decodeByPromptLength(Path checkpoint, LoadGenerator load) throws Exception {
        int window = ModelConfig.read(checkpoint).maxPositions();
        if (window <= LONG_PROMPT + newTokens) {
            out.printf(
                    "  decode ms/token by prompt length: skipped (context %d tokens; it needs more than %d + %d)%n",
                    window, LONG_PROMPT, newTokens);
            return;
        }
        Tokenizer tok = io.rlhf4j.core.tokenizer.Tokenizers.load(checkpoint);
        String shortPrompt = promptOf(tok, SHORT_PROMPT);
        String longPrompt = promptOf(tok, LONG_PROMPT);
        LoadGenerator.Result s = load.run(1, 4, List.of(shortPrompt), newTokens);
        LoadGenerator.Result l = load.run(1, 4, List.of(longPrompt), newTokens);
        out.printf(
                "  decode ms/token after the first, 1 stream, 4 requests each: %d-token prompt %.2f, "
                        + "%d-token prompt %.2f (%.2fx); TTFT p50 %.0f vs %.0f ms%n",
                tok.encode(shortPrompt, true).length,
                s.decodeMsPerToken(),
                tok.encode(longPrompt, true).length,
                l.decodeMsPerToken(),
                l.decodeMsPerToken() / s.decodeMsPerToken(),
                s.ttftP50(),
                l.ttftP50());
    }

    /**
     * Time to first token, one stream, for requests that share a {@value #SYSTEM_PROMPT}-token system
     * prompt (each with its own question after it: after the first, the prefix cache serves the system
     * prompt's blocks) against requests whose system prompts differ in their first token (nothing to
     * reuse). Same server, same lengths.
     */
    private void sharedSystemPrompt(Path checkpoint, LoadGenerator load) throws Exception {
        int window = ModelConfig.read(checkpoint).maxPositions();
        if (window <= SYSTEM_PROMPT + 16 + newTokens) {
            out.printf(
                    "  TTFT with a shared %d-token system prompt: skipped (context %d tokens)%n",
                    SYSTEM_PROMPT, window);
            return;
        }
        Tokenizer tok = io.rlhf4j.core.tokenizer.Tokenizers.load(checkpoint);
        String system = promptOf(tok, SYSTEM_PROMPT);
        List<String> shared = new java.util.ArrayList<>();
        List<String> distinct = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            shared.add(system + " question " + i + ": why?");
            distinct.add(i + " " + system + " question " + i + ": why?");
        }
        LoadGenerator.Result cold = load.run(1, 8, distinct, 8);
        LoadGenerator.Result warm = load.run(1, 8, shared, 8);
        out.printf(
                "  TTFT p50 with a shared %d-token system prompt, 1 stream, 8 requests: %.1f ms cached vs %.1f ms "
                        + "not (%.2fx); p99 %.1f vs %.1f ms%n",
                tok.encode(system, true).length,
                warm.ttftP50(),
                cold.ttftP50(),
                cold.ttftP50() / warm.ttftP50(),
                warm.ttftP99(),
                cold.ttftP99());
    }

    /**
     * Six streams of short prompts while {@value #LONG_PROMPT}-token prompts (each a new one) arrive
     * beside them, on a server that prefills long prompts in chunks and on one that prefills them
     * whole: the short streams' TTFT p99 and their longest wait between two tokens.
     */
    private void longPromptsAmongStreams(Path checkpoint, Path export, Path work) throws Exception {
        int window = ModelConfig.read(checkpoint).maxPositions();
        if (window <= LONG_PROMPT + newTokens) {
            out.printf("  long prompts among running streams: skipped (context %d tokens)%n", window);
            return;
        }
        Tokenizer tok = io.rlhf4j.core.tokenizer.Tokenizers.load(checkpoint);
        String text = promptOf(tok, LONG_PROMPT);
        List<String> longOnes = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            longOnes.add(i + " " + text); // a new first token: nothing of it is cached
        }
        for (int chunk : new int[] {64, 256, 1 << 20}) {
            io.rlhf4j.serving.ServingApp.Config config = io.rlhf4j.serving.ServingApp.Config.defaults(
                            work.resolve("data-chunk-" + chunk))
                    .withPort(0)
                    .withLimits(32, 1024)
                    .withPrefillChunk(chunk);
            try (io.rlhf4j.serving.ServingApp app = io.rlhf4j.serving.ServingApp.start(config)) {
                app.registerAndActivate(export);
                LoadGenerator load = new LoadGenerator(app.port());
                load.run(2, 4, SERVE_PROMPTS, 8); // warm-up
                java.util.concurrent.CompletableFuture<LoadGenerator.Result> longs =
                        java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                            try {
                                Thread.sleep(200); // the short streams are running when they arrive
                                return load.run(1, longOnes.size(), longOnes, 8);
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        });
                LoadGenerator.Result shorts = load.run(6, 18, SERVE_PROMPTS, newTokens);
                LoadGenerator.Result l = longs.get();
                out.printf(
                        "  %-30s short streams TTFT p50 %.0f / p99 %.0f ms, longest gap between tokens %.0f ms; "
                                + "%d-token prompts TTFT p50 %.0f ms; failed %d + %d%n",
                        chunk < 1 << 20 ? "long prompts in chunks of " + chunk + ":" : "long prompts prefilled whole:",
                        shorts.ttftP50(),
                        shorts.ttftP99(),
                        shorts.longestGapMs(),
                        tok.encode(longOnes.get(0), true).length,
                        l.ttftP50(),
                        shorts.failures(),
                        l.failures());
            }
        }
    }

    /** English-like text that the tokenizer makes {@code tokens} long with BOS (or just past it). */
    private static String promptOf(Tokenizer tok, int tokens) {
        String words = "the cat sat on the mat and the dog ran to the park. ";
        StringBuilder text = new StringBuilder();
        for (int i = 0; tok.encode(text.toString(), true).length < tokens; i++) {
            text.append(words.charAt(i % words.length()));
        }
        return text.toString();
    }
}
