package io.rlhf4j.trainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A snapshot's reinforcement-learning prompts ({@code ppo.<split>.jsonl}), which PPO and RLOO sample from. */
public final class PromptSet {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PromptSet() {}

    /**
     * The split's prompts as token ids with BOS, leaving out those that leave no room to generate in a
     * context of {@code window} tokens.
     */
    public static List<int[]> load(Path snapshot, String split, Tokenizer tokenizer, int window) throws IOException {
        Path file = snapshot.resolve("ppo." + split + ".jsonl");
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(snapshot + " is not a dataset snapshot (no " + file.getFileName() + ")");
        }
        List<int[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                JsonNode row = JSON.readTree(line);
                int[] prompt = tokenizer.encode(row.get("prompt").asText(), true);
                if (prompt.length < window - 1) {
                    out.add(prompt);
                }
            }
        }
        return out;
    }
}
