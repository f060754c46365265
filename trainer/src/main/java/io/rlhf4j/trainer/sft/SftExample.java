package io.rlhf4j.trainer.sft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A prompt and one demonstration as token ids; the loss counts the demonstration (and its EOS) only. */
public record SftExample(int[] prompt, int[] completion) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public int length() {
        return prompt.length + completion.length;
    }

    public int[] tokens() {
        int[] all = Arrays.copyOf(prompt, length());
        System.arraycopy(completion, 0, all, prompt.length, completion.length);
        return all;
    }

    /**
     * Reads a snapshot's {@code sft.<split>.jsonl}: one example per demonstration, completions cut to fit
     * the context window, prompts that leave no room dropped.
     */
    public static List<SftExample> load(Path snapshot, String split, Tokenizer tokenizer, int window)
            throws IOException {
        Path file = snapshot.resolve("sft." + split + ".jsonl");
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(snapshot + " is not a dataset snapshot (no " + file.getFileName() + ")");
        }
        List<SftExample> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode row = JSON.readTree(line);
            int[] prompt = tokenizer.encode(row.get("prompt").asText(), true);
            for (JsonNode d : row.path("demonstrations")) {
                int[] text = tokenizer.encode(d.get("text").asText(), false);
                int[] completion = Arrays.copyOf(text, text.length + 1);
                completion[text.length] = tokenizer.eosId();
                int room = window - prompt.length;
                if (room < 2) {
                    continue;
                }
                out.add(new SftExample(
                        prompt, completion.length > room ? Arrays.copyOf(completion, room) : completion));
            }
        }
        return out;
    }
}
