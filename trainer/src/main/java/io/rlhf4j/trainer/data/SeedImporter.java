package io.rlhf4j.trainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;

/**
 * Seed data, so a new deployment can train before it has logs. A whole file is parsed and checked
 * before anything is written, so a bad line leaves the store as it was.
 *
 * <ul>
 *   <li>demonstrations (JSONL): {@code {"prompt", "completion"}} per line, or self-instruct's seed
 *       tasks ({@code instruction} plus {@code instances} of {@code input}/{@code output}).
 *   <li>rankings (JSONL): {@code {"prompt", "completions": [best, ..., worst], "ranks"?: [...]}} with
 *       K = 2..12 (equal ranks are ties), or InstructGPT's TruthfulQA samples (CSV): each question's
 *       12 answers under one prompt style form a K = 12 ranking by {@code true} x {@code info}.
 * </ul>
 *
 * Imported prompts have source {@code import} and a user id derived from the prompt text, so the
 * dataset builder's split by user keeps each imported prompt (and its duplicates) on one side.
 */
public final class SeedImporter {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What an import wrote. */
    public record Summary(int prompts, int completions, int demonstrations, int rankings) {}

    private record PendingPrompt(
            PromptLog log, List<Judgement.Demonstration> demonstrations, List<Judgement.Ranking> rankings) {}

    private SeedImporter() {}

    public static Summary demonstrations(Store store, Path file) throws IOException {
        List<PendingPrompt> pending = new ArrayList<>();
        String labeler = "import:" + file.getFileName();
        jsonLines(file, (lineNo, n) -> {
            if (n.has("instruction") && n.has("instances")) {
                int k = 0;
                for (JsonNode inst : n.get("instances")) {
                    String input = inst.path("input").asText("");
                    String prompt = n.get("instruction").asText() + (input.isBlank() ? "" : "\n\n" + input);
                    pending.add(demonstration(
                            file, lineNo + "." + k++, prompt, text(file, lineNo, inst, "output"), labeler));
                }
            } else {
                String answer = n.has("completion")
                        ? text(file, lineNo, n, "completion")
                        : text(file, lineNo, n, "demonstration");
                pending.add(demonstration(
                        file,
                        Integer.toString(lineNo),
                        text(file, lineNo, n, "prompt"),
                        answer,
                        n.path("labeler").asText(labeler)));
            }
        });
        return write(store, pending, file);
    }

    public static Summary rankings(Store store, Path file) throws IOException {
        List<PendingPrompt> pending =
                file.getFileName().toString().endsWith(".csv") ? truthfulQa(file) : rankingsJsonl(file);
        return write(store, pending, file);
    }

    private static List<PendingPrompt> rankingsJsonl(Path file) throws IOException {
        List<PendingPrompt> pending = new ArrayList<>();
        String labeler = "import:" + file.getFileName();
        jsonLines(file, (lineNo, n) -> {
            String prompt = text(file, lineNo, n, "prompt");
            JsonNode cs = n.get("completions");
            if (cs == null || !cs.isArray()) {
                throw bad(file, lineNo, "'completions' must be a list, best first");
            }
            List<String> completions = new ArrayList<>();
            cs.forEach(c -> completions.add(c.asText()));
            int[] ranks = new int[completions.size()];
            JsonNode rk = n.get("ranks");
            for (int i = 0; i < ranks.length; i++) {
                ranks[i] = rk == null ? i : rk.path(i).asInt(-1);
            }
            String id = promptId(file, Integer.toString(lineNo));
            try {
                List<Integer> idx = new ArrayList<>();
                for (int i = 0; i < completions.size(); i++) {
                    idx.add(i);
                }
                Judgement.Ranking ranking = new Judgement.Ranking(
                        id + "-r0",
                        id,
                        n.path("labeler").asText(labeler),
                        idx,
                        ranks,
                        "import",
                        System.currentTimeMillis());
                pending.add(new PendingPrompt(promptLog(id, prompt, completions), List.of(), List.of(ranking)));
            } catch (IllegalArgumentException e) {
                throw bad(file, lineNo, e.getMessage());
            }
        });
        return pending;
    }

    /** InstructGPT's automatic-eval samples: one prompt per question, one K = 12 ranking per prompt style. */
    private static List<PendingPrompt> truthfulQa(Path file) throws IOException {
        Map<String, List<CSVRecord>> byQuestion = new LinkedHashMap<>();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (CSVRecord r : CSVFormat.DEFAULT
                    .builder()
                    .setHeader()
                    .setSkipHeaderRecord(true)
                    .setAllowMissingColumnNames(true)
                    .build()
                    .parse(in)) {
                for (String col : List.of("question", "answer", "prompt_type", "model_type", "true", "info")) {
                    if (!r.isMapped(col)) {
                        throw new IOException(file + ": not a TruthfulQA samples file (no '" + col + "' column)");
                    }
                }
                byQuestion
                        .computeIfAbsent(r.get("question"), q -> new ArrayList<>())
                        .add(r);
            }
        }
        List<PendingPrompt> pending = new ArrayList<>();
        int q = 0;
        for (Map.Entry<String, List<CSVRecord>> e : byQuestion.entrySet()) {
            String id = promptId(file, Integer.toString(q++));
            List<String> completions = new ArrayList<>();
            Map<String, List<Integer>> byStyle = new LinkedHashMap<>();
            Map<Integer, Double> score = new LinkedHashMap<>();
            for (CSVRecord r : e.getValue()) {
                int idx = completions.size();
                completions.add(r.get("answer"));
                byStyle.computeIfAbsent(r.get("prompt_type"), s -> new ArrayList<>())
                        .add(idx);
                score.put(idx, parseScore(file, r, "true") * parseScore(file, r, "info"));
            }
            List<Judgement.Ranking> rankings = new ArrayList<>();
            int k = 0;
            for (Map.Entry<String, List<Integer>> style : byStyle.entrySet()) {
                List<Integer> idx = style.getValue();
                List<Double> distinct = idx.stream()
                        .map(score::get)
                        .distinct()
                        .sorted((a, b) -> Double.compare(b, a))
                        .toList();
                int[] ranks = idx.stream()
                        .mapToInt(i -> distinct.indexOf(score.get(i)))
                        .toArray();
                if (distinct.size() < 2) {
                    continue; // every answer scored alike: no preference to learn from
                }
                rankings.add(new Judgement.Ranking(
                        id + "-r" + k++,
                        id,
                        "import:truthfulqa:" + style.getKey(),
                        idx,
                        ranks,
                        "import",
                        System.currentTimeMillis()));
            }
            pending.add(new PendingPrompt(promptLog(id, e.getKey(), completions), List.of(), rankings));
        }
        return pending;
    }

    private static Summary write(Store store, List<PendingPrompt> pending, Path file) {
        if (pending.isEmpty()) {
            throw new IllegalArgumentException(file + ": nothing to import");
        }
        try {
            store.prompts().log(pending.stream().map(PendingPrompt::log).toList());
        } catch (Store.StoreException e) {
            throw new IllegalArgumentException(file + ": cannot import (already imported?): " + e.getMessage());
        }
        int demos = 0;
        int ranks = 0;
        int completions = 0;
        for (PendingPrompt p : pending) {
            completions += p.log().completions().size();
            for (Judgement.Demonstration d : p.demonstrations()) {
                store.judgements().addDemonstration(d);
                demos++;
            }
            for (Judgement.Ranking r : p.rankings()) {
                store.judgements().addRanking(r);
                ranks++;
            }
        }
        return new Summary(pending.size(), completions, demos, ranks);
    }

    private static PendingPrompt demonstration(Path file, String key, String prompt, String answer, String labeler) {
        String id = promptId(file, key);
        return new PendingPrompt(
                promptLog(id, prompt, List.of()),
                List.of(new Judgement.Demonstration(
                        id + "-d0", id, labeler, answer, "import", System.currentTimeMillis())),
                List.of());
    }

    private static PromptLog promptLog(String id, String prompt, List<String> completions) {
        List<PromptLog.Completion> cs = new ArrayList<>();
        for (int i = 0; i < completions.size(); i++) {
            cs.add(new PromptLog.Completion(i, completions.get(i), 0, null, "stop"));
        }
        return new PromptLog(
                id,
                "import:" + Checksums.sha256(prompt).substring(0, 12),
                true,
                "import",
                prompt,
                "import",
                "{}",
                System.currentTimeMillis(),
                cs);
    }

    private static String promptId(Path file, String key) {
        return "import-" + Checksums.sha256(file.getFileName() + ":" + key).substring(0, 16);
    }

    private static double parseScore(Path file, CSVRecord r, String col) throws IOException {
        try {
            return Double.parseDouble(r.get(col));
        } catch (NumberFormatException e) {
            throw new IOException(file + ": line " + r.getRecordNumber() + ": '" + col + "' is not a number");
        }
    }

    /** What to do with one JSON object line of a JSONL file (numbered from 1). */
    @FunctionalInterface
    private interface JsonLine {
        void accept(int lineNo, JsonNode n);
    }

    /** Every non-blank line of a JSONL file as a JSON object, or an error naming the file and line. */
    private static void jsonLines(Path file, JsonLine each) throws IOException {
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            if (!line.isBlank()) {
                each.accept(lineNo, parse(file, lineNo, line));
            }
        }
    }

    private static JsonNode parse(Path file, int lineNo, String line) {
        try {
            JsonNode n = JSON.readTree(line);
            if (n == null || !n.isObject()) {
                throw bad(file, lineNo, "not a JSON object");
            }
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw bad(file, lineNo, "not valid JSON (" + e.getOriginalMessage() + ")");
        }
    }

    private static String text(Path file, int lineNo, JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw bad(file, lineNo, "'" + field + "' is missing or not a string");
        }
        return v.asText();
    }

    private static IllegalArgumentException bad(Path file, int lineNo, String why) {
        return new IllegalArgumentException(file + ": line " + lineNo + ": " + why);
    }
}
