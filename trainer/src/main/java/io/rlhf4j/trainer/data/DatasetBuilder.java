package io.rlhf4j.trainer.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.loop.SnapshotIndex;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns the store into an immutable training snapshot, as InstructGPT built its datasets: only
 * prompts of users who consented; prompts sharing a long common prefix with an earlier one dropped;
 * at most {@code maxPerUser} prompts per user; train/validation/test split by user id, so no user's
 * prompts cross splits; and disjoint prompt sets for SFT (demonstrations), the reward model (rankings)
 * and PPO (prompts only). The snapshot is a directory of JSONL files and a manifest with counts per
 * split, per set and per source, written atomically under {@code <data>/snapshots/<id>}.
 */
public final class DatasetBuilder {

    /** Knobs, with InstructGPT-like defaults. */
    public record Options(int prefixChars, int maxPerUser, SplitPolicy split, String heldOutLabelers) {
        public Options {
            heldOutLabelers = heldOutLabelers == null ? "" : heldOutLabelers;
            if (prefixChars < 1 || maxPerUser < 1 || split == null) {
                throw new IllegalArgumentException("invalid dataset options " + this);
            }
        }

        public static Options defaults() {
            return new Options(40, 200, SplitPolicy.DEFAULT, "");
        }

        /**
         * Rankings by labelers whose id starts with {@code prefix} go to {@code rm.heldout.jsonl} instead
         * of the RM's splits, so the reward model can be evaluated on labelers it never trained on.
         */
        public Options withHeldOutLabelers(String prefix) {
            return new Options(prefixChars, maxPerUser, split, prefix);
        }

        public Options withSplit(SplitPolicy policy) {
            return new Options(prefixChars, maxPerUser, policy, heldOutLabelers);
        }
    }

    public static final List<String> SPLITS = List.of("train", "validation", "test");
    public static final List<String> SETS = List.of("sft", "rm", "ppo");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    private DatasetBuilder() {}

    /**
     * Builds the next snapshot under {@code snapshotsDir}; returns its manifest. A user deleted while it
     * was being built is not in it: the build starts over (a few times at most) rather than write what
     * the deletion removed.
     */
    public static ObjectNode build(Store store, Path snapshotsDir, Options o) throws IOException {
        for (int attempt = 1; ; attempt++) {
            ObjectNode manifest = buildOnce(store, snapshotsDir, o, attempt == 3);
            if (manifest != null) {
                return manifest;
            }
        }
    }

    /** Null when a user it read was deleted before it could write (and {@code last} is false). */
    private static ObjectNode buildOnce(Store store, Path snapshotsDir, Options o, boolean last) throws IOException {
        List<PromptLog> prompts = new ArrayList<>(store.prompts().recent(Integer.MAX_VALUE));
        // Tombstones read after the prompts: a row read here whose user was deleted since is dropped.
        Map<String, Long> deleted = store.consent().deletedSince(0);
        prompts.removeIf(p -> deleted.containsKey(p.userId()) && p.createdAt() <= deleted.get(p.userId()));
        prompts.sort(Comparator.comparingLong(PromptLog::createdAt).thenComparing(PromptLog::id));
        Map<String, List<Judgement.Demonstration>> demos = new HashMap<>();
        store.judgements()
                .demonstrations()
                .forEach(d -> demos.computeIfAbsent(d.promptId(), k -> new ArrayList<>())
                        .add(d));
        Map<String, List<Judgement.Ranking>> ranks = new HashMap<>();
        store.judgements()
                .rankings()
                .forEach(r -> ranks.computeIfAbsent(r.promptId(), k -> new ArrayList<>())
                        .add(r));

        int noConsent = 0;
        int duplicate = 0;
        int overCap = 0;
        List<String> heldOut = new ArrayList<>();
        Set<String> prefixes = new HashSet<>();
        Map<String, Integer> perUser = new HashMap<>();
        java.util.SortedSet<String> users = new TreeSet<>();
        // rows[set][split] -> JSONL lines
        Map<String, Map<String, List<String>>> rows = new LinkedHashMap<>();
        Map<String, Integer> bySource = new TreeMap<>();
        for (String set : SETS) {
            rows.put(set, new LinkedHashMap<>());
            SPLITS.forEach(s -> rows.get(set).put(s, new ArrayList<>()));
        }
        for (PromptLog p : prompts) {
            if (!p.consent()) {
                noConsent++;
                continue;
            }
            if (!prefixes.add(prefix(p.text(), o.prefixChars()))) {
                duplicate++;
                continue;
            }
            int count = perUser.merge(p.userId(), 1, Integer::sum);
            if (count > o.maxPerUser()) {
                overCap++;
                continue;
            }
            String split = split(p.userId(), o);
            users.add(p.userId());
            ObjectNode row = JSONL.createObjectNode();
            row.put("prompt_id", p.id());
            row.put("user_id", p.userId());
            row.put("source", p.source());
            row.put("prompt", p.text());
            String set;
            if (ranks.containsKey(p.id())) {
                set = "rm";
                ArrayNode cs = row.putArray("completions");
                p.completions().forEach(c -> cs.add(c.text()));
                ArrayNode rs = row.putArray("rankings");
                ObjectNode held = row.deepCopy();
                ArrayNode hs = held.putArray("rankings");
                for (Judgement.Ranking r : ranks.get(p.id())) {
                    boolean out =
                            !o.heldOutLabelers().isEmpty() && r.labelerId().startsWith(o.heldOutLabelers());
                    ObjectNode rn = out ? hs.addObject() : rs.addObject();
                    rn.put("labeler", r.labelerId());
                    ArrayNode idx = rn.putArray("completions");
                    r.completions().forEach(idx::add);
                    ArrayNode rk = rn.putArray("ranks");
                    for (int x : r.ranks()) {
                        rk.add(x);
                    }
                }
                if (!hs.isEmpty()) {
                    heldOut.add(JSONL.writeValueAsString(held));
                }
                if (rs.isEmpty()) {
                    bySource.merge(p.source(), 1, Integer::sum);
                    continue; // judged by held-out labelers only
                }
            } else if (demos.containsKey(p.id())) {
                set = "sft";
                ArrayNode ds = row.putArray("demonstrations");
                for (Judgement.Demonstration d : demos.get(p.id())) {
                    ds.addObject().put("labeler", d.labelerId()).put("text", d.text());
                }
            } else {
                set = "ppo";
            }
            rows.get(set).get(split).add(JSONL.writeValueAsString(row));
            bySource.merge(p.source(), 1, Integer::sum);
        }

        Map<String, Long> since = store.consent().deletedSince(0);
        boolean stale = users.stream()
                .anyMatch(u -> since.containsKey(u) && !since.get(u).equals(deleted.get(u)));
        if (stale) {
            if (last) {
                throw new IOException("users kept being deleted while the snapshot was built; build it again");
            }
            return null;
        }
        Files.createDirectories(snapshotsDir);
        String id = claimId(snapshotsDir);
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("id", id);
        manifest.put("created_at", System.currentTimeMillis());
        manifest.set("options", JSON.valueToTree(o));
        ObjectNode counts = manifest.putObject("counts");
        for (String set : SETS) {
            ObjectNode c = counts.putObject(set);
            SPLITS.forEach(s -> c.put(s, rows.get(set).get(s).size()));
        }
        counts.with("rm").put("heldout", heldOut.size());
        manifest.put("held_out_labelers", o.heldOutLabelers());
        ObjectNode src = manifest.putObject("by_source");
        bySource.forEach(src::put);
        ObjectNode dropped = manifest.putObject("dropped");
        dropped.put("no_consent", noConsent);
        dropped.put("shared_prefix", duplicate);
        dropped.put("over_user_cap", overCap);
        AtomicDirectory.write(snapshotsDir.resolve(id), dir -> {
            StringBuilder all = new StringBuilder();
            for (String set : SETS) {
                for (String split : SPLITS) {
                    Path f = dir.resolve(set + "." + split + ".jsonl");
                    try (Writer w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
                        for (String line : rows.get(set).get(split)) {
                            w.write(line);
                            w.write('\n');
                            all.append(line).append('\n');
                        }
                    }
                }
            }
            try (Writer w = Files.newBufferedWriter(dir.resolve("rm.heldout.jsonl"), StandardCharsets.UTF_8)) {
                for (String line : heldOut) {
                    w.write(line);
                    w.write('\n');
                    all.append(line).append('\n');
                }
            }
            manifest.put("content_sha256", Checksums.sha256(all.toString()));
            JSON.writeValue(dir.resolve("manifest.json").toFile(), manifest);
            new SnapshotIndex(id, users).writeInto(dir);
        });
        // The directory now holds the id; a failed build leaves its claim, and the id is skipped.
        Files.deleteIfExists(claim(snapshotsDir, id));
        return manifest;
    }

    /** The normalised first characters of a prompt: what "sharing a long common prefix" compares. */
    static String prefix(String text, int chars) {
        String norm = text.toLowerCase(Locale.ROOT).replaceAll("\\s+", " ").strip();
        return norm.length() <= chars ? norm : norm.substring(0, chars);
    }

    static String split(String userId, Options o) {
        return o.split().splitOf(userId);
    }

    /**
     * The next free snapshot id, claimed by creating its claim file (atomic: of two builders, one gets
     * it, the other tries the next), so two builds never write the same {@code snap-N}.
     */
    static String claimId(Path snapshotsDir) throws IOException {
        int next = 1;
        try (var s = Files.list(snapshotsDir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                var m = SNAPSHOT_OR_CLAIM.matcher(n);
                if (m.matches()) {
                    next = Math.max(next, Integer.parseInt(m.group(1)) + 1);
                }
            }
        }
        for (; ; next++) {
            String id = "snap-" + next;
            if (Files.exists(snapshotsDir.resolve(id))) {
                continue;
            }
            try {
                Files.createFile(claim(snapshotsDir, id));
                return id;
            } catch (java.nio.file.FileAlreadyExistsException taken) {
                // another builder claimed it first
            }
        }
    }

    private static final java.util.regex.Pattern SNAPSHOT_OR_CLAIM =
            java.util.regex.Pattern.compile("\\.?snap-(\\d+)(\\.claim)?");

    private static Path claim(Path snapshotsDir, String id) {
        return snapshotsDir.resolve("." + id + ".claim");
    }
}
