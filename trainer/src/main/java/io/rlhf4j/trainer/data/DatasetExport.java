package io.rlhf4j.trainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.trainer.rm.RankingLoss;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A snapshot as the JSONL OpenRLHF or TRL trains from, for when training outgrows one machine:
 *
 * <ul>
 *   <li>{@code sft.<split>.jsonl}: one row per demonstration. OpenRLHF's {@code train_sft} reads
 *       {@code --input_key input --output_key output}; TRL's {@code SFTTrainer} the prompt-completion
 *       form, {@code prompt} and {@code completion}.
 *   <li>{@code preference.<split>.jsonl}: each K-way ranking as all C(K,2) pairs with a strict order
 *       (ties give none, as in our reward model's loss), the better one {@code chosen}. Both read
 *       {@code prompt}, {@code chosen}, {@code rejected} (OpenRLHF's {@code train_rm} and
 *       {@code train_dpo} with {@code --prompt_key prompt}; TRL's {@code RewardTrainer} and
 *       {@code DPOTrainer}). {@code prompt_id}, {@code labeler} and {@code ranking} tag each pair so
 *       the K-way groups can be rebuilt; the trainers ignore them.
 *   <li>{@code prompts.<split>.jsonl}: the PPO prompts, {@code input} for OpenRLHF's
 *       {@code --input_key input}, {@code prompt} for TRL's PPO, RLOO and GRPO trainers.
 * </ul>
 *
 * Texts are as stored, without a chat template; {@code manifest.json} records the snapshot it came
 * from (id, content hash), the counts and each trainer's flags.
 */
public final class DatasetExport {

    public enum Format {
        openrlhf,
        trl
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SPLITS = List.of("train", "validation", "test", "heldout");

    private DatasetExport() {}

    /** Writes {@code out} atomically; returns its manifest. */
    public static ObjectNode export(Path snapshot, Path out, Format format) throws IOException {
        Path source = snapshot.resolve("manifest.json");
        if (!Files.isRegularFile(source)) {
            throw new CheckpointFormatException(snapshot + ": not a snapshot (no manifest.json)");
        }
        JsonNode snap = JSON.readTree(source.toFile());
        boolean trl = format == Format.trl;
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("format", format.name());
        ObjectNode from = manifest.putObject("snapshot");
        from.put("path", snapshot.toAbsolutePath().normalize().toString());
        from.set("id", snap.get("id"));
        from.set("content_sha256", snap.get("content_sha256"));
        ObjectNode counts = manifest.putObject("counts");
        AtomicDirectory.write(out, tmp -> {
            for (String split : SPLITS) {
                Map<String, Integer> n = new LinkedHashMap<>();
                n.put(
                        "sft",
                        convert(
                                snapshot.resolve("sft." + split + ".jsonl"),
                                tmp.resolve("sft." + split + ".jsonl"),
                                (row, w) -> demonstrations(trl, row, w)));
                String rm = split.equals("heldout") ? "rm.heldout.jsonl" : "rm." + split + ".jsonl";
                n.put(
                        "preference",
                        convert(
                                snapshot.resolve(rm),
                                tmp.resolve("preference." + split + ".jsonl"),
                                DatasetExport::preferencePairs));
                n.put(
                        "prompts",
                        convert(
                                snapshot.resolve("ppo." + split + ".jsonl"),
                                tmp.resolve("prompts." + split + ".jsonl"),
                                (row, w) -> prompt(trl, row, w)));
                n.values().removeIf(v -> v < 0);
                if (!n.isEmpty()) {
                    counts.set(split, JSON.valueToTree(n));
                }
            }
            ObjectNode flags = manifest.putObject("trainer_flags");
            if (trl) {
                flags.put("SFTTrainer", "columns prompt, completion");
                flags.put("RewardTrainer, DPOTrainer", "columns prompt, chosen, rejected");
                flags.put("PPOTrainer, RLOOTrainer, GRPOTrainer", "column prompt");
            } else {
                flags.put("openrlhf.cli.train_sft", "--input_key input --output_key output");
                flags.put(
                        "openrlhf.cli.train_rm, train_dpo",
                        "--prompt_key prompt --chosen_key chosen --rejected_key rejected");
                flags.put("openrlhf.cli.train_ppo_ray", "--input_key input");
            }
            JSON.writer(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(tmp.resolve("manifest.json").toFile(), manifest);
        });
        return manifest;
    }

    /** One line per demonstration of an SFT row, in TRL's or OpenRLHF's column names. */
    private static int demonstrations(boolean trl, JsonNode row, Writer w) throws IOException {
        int written = 0;
        for (JsonNode d : row.path("demonstrations")) {
            ObjectNode o = JSON.createObjectNode();
            o.put(trl ? "prompt" : "input", row.path("prompt").asText());
            o.put(trl ? "completion" : "output", d.path("text").asText());
            o.put("prompt_id", row.path("prompt_id").asText());
            o.put("labeler", d.path("labeler").asText());
            written += line(w, o);
        }
        return written;
    }

    /** Every ordered (chosen, rejected) pair of every ranking of an RM row, tagged with its ranking. */
    private static int preferencePairs(JsonNode row, Writer w) throws IOException {
        int written = 0;
        JsonNode rankings = row.path("rankings");
        for (int r = 0; r < rankings.size(); r++) {
            JsonNode ranking = rankings.get(r);
            int[] ranks = new int[ranking.path("ranks").size()];
            for (int i = 0; i < ranks.length; i++) {
                ranks[i] = ranking.get("ranks").get(i).asInt();
            }
            for (int[] pair : RankingLoss.pairs(ranks)) {
                ObjectNode o = JSON.createObjectNode();
                o.put("prompt", row.path("prompt").asText());
                o.put("chosen", completion(row, ranking, pair[0]));
                o.put("rejected", completion(row, ranking, pair[1]));
                o.put("prompt_id", row.path("prompt_id").asText());
                o.put("labeler", ranking.path("labeler").asText());
                o.put("ranking", r);
                o.put("k", ranks.length);
                written += line(w, o);
            }
        }
        return written;
    }

    private static int prompt(boolean trl, JsonNode row, Writer w) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put(trl ? "prompt" : "input", row.path("prompt").asText());
        o.put("prompt_id", row.path("prompt_id").asText());
        return line(w, o);
    }

    private static String completion(JsonNode row, JsonNode ranking, int index) {
        int c = ranking.path("completions").path(index).asInt(index);
        JsonNode text = row.path("completions").path(c);
        if (!text.isTextual()) {
            throw new CheckpointFormatException(
                    "prompt " + row.path("prompt_id").asText() + ": a ranking names completion " + c
                            + ", which the row does not hold");
        }
        return text.asText();
    }

    private interface Rows {
        /** Writes what {@code row} becomes; returns the lines written. */
        int convert(JsonNode row, Writer out) throws IOException;
    }

    /** The lines written, or -1 when the snapshot has no such file (a split it does not hold). */
    private static int convert(Path in, Path out, Rows rows) throws IOException {
        if (!Files.isRegularFile(in)) {
            return -1;
        }
        int n = 0;
        int lineNumber = 0;
        try (BufferedReader r = Files.newBufferedReader(in, StandardCharsets.UTF_8);
                Writer w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode row;
                try {
                    row = JSON.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new CheckpointFormatException(
                            String.format(Locale.ROOT, "%s:%d: not JSON (%s)", in, lineNumber, e.getOriginalMessage()));
                }
                n += rows.convert(row, w);
            }
        }
        return n;
    }

    private static int line(Writer w, ObjectNode o) throws IOException {
        w.write(JSON.writeValueAsString(o));
        w.write('\n');
        return 1;
    }
}
