package io.rlhf4j.trainer.rm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.run.MemoryEstimate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One labeler's ranking of K completions of a prompt, as token sequences (prompt + completion + EOS)
 * whose first {@code promptLength} tokens are the prompt's.
 */
public record RankedExample(String labeler, List<int[]> sequences, int[] ranks, int promptLength) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads a snapshot's {@code rm.<split>.jsonl}; sequences are cut to the context window. */
    public static List<RankedExample> load(Path snapshot, String split, Tokenizer tokenizer, int window)
            throws IOException {
        Path file = snapshot.resolve("rm." + split + ".jsonl");
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(snapshot + " is not a dataset snapshot (no " + file.getFileName() + ")");
        }
        List<RankedExample> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode row = JSON.readTree(line);
            int[] prompt = tokenizer.encode(row.get("prompt").asText(), true);
            List<String> completions = new ArrayList<>();
            row.get("completions").forEach(c -> completions.add(c.asText()));
            for (JsonNode r : row.path("rankings")) {
                List<int[]> seqs = new ArrayList<>();
                JsonNode idx = r.get("completions");
                int[] ranks = new int[idx.size()];
                for (int i = 0; i < idx.size(); i++) {
                    int[] c = tokenizer.encode(completions.get(idx.get(i).asInt()), false);
                    int[] all = Arrays.copyOf(prompt, prompt.length + c.length + 1);
                    System.arraycopy(c, 0, all, prompt.length, c.length);
                    all[all.length - 1] = tokenizer.eosId();
                    seqs.add(all.length > window ? Arrays.copyOf(all, window) : all);
                    ranks[i] = r.get("ranks").get(i).asInt();
                }
                if (!RankingLoss.pairs(ranks).isEmpty()) {
                    out.add(new RankedExample(
                            r.path("labeler").asText("unknown"), seqs, ranks, Math.min(prompt.length, window)));
                }
            }
        }
        return out;
    }

    /**
     * What a step of {@code perStep} rankings puts through one backward, every completion of each, into
     * {@code estimate}: with the vocabulary's logits for a policy (DPO), without for a reward model.
     */
    public static MemoryEstimate.Builder stepActivations(
            MemoryEstimate.Builder estimate, List<RankedExample> examples, int perStep, boolean logits) {
        long rows = examples.stream().mapToLong(e -> e.sequences().size()).max().orElseThrow() * perStep;
        int longest = examples.stream()
                .flatMap(e -> e.sequences().stream())
                .mapToInt(q -> q.length)
                .max()
                .orElseThrow();
        return estimate.activations(rows, longest, logits);
    }
}
