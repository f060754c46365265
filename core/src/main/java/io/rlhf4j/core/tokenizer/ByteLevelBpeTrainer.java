package io.rlhf4j.core.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Trains a GPT-2-style byte-level BPE tokenizer and writes it as HF {@code tokenizer.json}.
 *
 * <p>Ids: 0 {@code <|bos|>}, 1 {@code <|eos|>}, 2 {@code <|pad|>} (fixed whatever the vocabulary
 * size, so configs can name them), then the 256 bytes in byte order (id = 3 + byte), then one id
 * per merge in the order learned. Text is split by GPT-2's pattern, the same one HF's ByteLevel
 * pre-tokenizer applies at encode time, and merges never cross those splits.
 *
 * <p>Training counts pairs over the distinct pre-tokenized words weighted by frequency, and after
 * each merge updates only the words that contained the merged pair. Ties in the pair count go to
 * the smaller (left id, right id), so the same corpus always gives the same file.
 */
public final class ByteLevelBpeTrainer {

    public static final String BOS = "<|bos|>";
    public static final String EOS = "<|eos|>";
    public static final String PAD = "<|pad|>";
    public static final int BOS_ID = 0;
    public static final int EOS_ID = 1;
    public static final int PAD_ID = 2;
    private static final int FIRST_BYTE_ID = 3;
    private static final int FIRST_MERGE_ID = FIRST_BYTE_ID + 256;

    /**
     * GPT-2's pre-tokenization pattern as HF's ByteLevel pre-tokenizer runs it (Oniguruma, where
     * {@code \s} is Unicode white space: hence UNICODE_CHARACTER_CLASS, without which Java's is ASCII).
     */
    static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** GPT-2's bytes_to_unicode: every byte as a printable character, so tokens are readable text. */
    static final char[] BYTE_TO_CHAR = byteToChar();

    private final int vocabSize;

    /** @param vocabSize total ids including the 3 special tokens and 256 bytes; at least 259 */
    public ByteLevelBpeTrainer(int vocabSize) {
        if (vocabSize < FIRST_MERGE_ID) {
            throw new IllegalArgumentException(
                    "vocabSize " + vocabSize + " < " + FIRST_MERGE_ID + " (3 special tokens + 256 bytes)");
        }
        this.vocabSize = vocabSize;
    }

    /** Trains on {@code corpus}, writes {@code tokenizer.json} (+ config) into {@code outputDir}, loads it. */
    public HfTokenizer train(Iterable<String> corpus, Path outputDir) throws IOException {
        Map<String, int[]> wordCounts = new HashMap<>();
        for (String text : corpus) {
            count(text, wordCounts);
        }
        return write(learnMerges(wordCounts), outputDir);
    }

    public HfTokenizer train(Stream<String> corpus, Path outputDir) throws IOException {
        return train(corpus::iterator, outputDir);
    }

    private static void count(String text, Map<String, int[]> wordCounts) {
        Matcher m = GPT2_SPLIT.matcher(text);
        while (m.find()) {
            wordCounts.computeIfAbsent(m.group(), w -> new int[1])[0]++;
        }
    }

    /** Returns the merges in order, each as {left id, right id}; merge i creates id FIRST_MERGE_ID + i. */
    private List<int[]> learnMerges(Map<String, int[]> wordCounts) {
        int n = wordCounts.size();
        int[][] words = new int[n][];
        long[] freq = new long[n];
        int w = 0;
        for (Map.Entry<String, int[]> e : wordCounts.entrySet()) {
            byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] symbols = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                symbols[i] = FIRST_BYTE_ID + (bytes[i] & 0xff);
            }
            words[w] = symbols;
            freq[w++] = e.getValue()[0];
        }

        Map<Long, long[]> pairCount = new HashMap<>(); // boxed long[] so counts update in place
        Map<Long, IntList> wordsWithPair = new HashMap<>(); // may hold stale or repeated entries
        for (w = 0; w < n; w++) {
            int[] s = words[w];
            for (int i = 0; i + 1 < s.length; i++) {
                long key = pairKey(s[i], s[i + 1]);
                pairCount.computeIfAbsent(key, k -> new long[1])[0] += freq[w];
                wordsWithPair.computeIfAbsent(key, k -> new IntList()).add(w);
            }
        }
        // Entries {count, left, right}; an entry whose count no longer matches is refreshed lazily.
        PriorityQueue<long[]> queue = new PriorityQueue<>(Comparator.<long[]>comparingLong(e -> -e[0])
                .thenComparingLong(e -> e[1])
                .thenComparingLong(e -> e[2]));
        pairCount.forEach((key, c) -> queue.add(new long[] {c[0], key >>> 32, key & 0xffffffffL}));

        List<int[]> merges = new ArrayList<>();
        int[] lastVisit = new int[n];
        Arrays.fill(lastVisit, -1);
        while (FIRST_MERGE_ID + merges.size() < vocabSize && !queue.isEmpty()) {
            long[] top = queue.poll();
            int a = (int) top[1];
            int b = (int) top[2];
            long key = pairKey(a, b);
            long[] current = pairCount.get(key);
            long count = current == null ? 0 : current[0];
            if (count != top[0]) {
                if (count > 0) {
                    queue.add(new long[] {count, a, b});
                }
                continue;
            }
            if (count <= 0) {
                continue;
            }
            int merged = FIRST_MERGE_ID + merges.size();
            merges.add(new int[] {a, b});
            Map<Long, long[]> created = new HashMap<>();
            IntList candidates = wordsWithPair.remove(key);
            for (int j = 0; j < candidates.size; j++) {
                int wi = candidates.items[j];
                if (lastVisit[wi] == merged) {
                    continue;
                }
                lastVisit[wi] = merged;
                int[] before = words[wi];
                int[] after = merge(before, a, b, merged);
                if (after.length == before.length) {
                    continue; // a stale entry: the pair left this word in an earlier merge
                }
                words[wi] = after;
                for (int i = 0; i + 1 < before.length; i++) {
                    pairCount.get(pairKey(before[i], before[i + 1]))[0] -= freq[wi];
                }
                for (int i = 0; i + 1 < after.length; i++) {
                    long k = pairKey(after[i], after[i + 1]);
                    long[] c = pairCount.computeIfAbsent(k, x -> new long[1]);
                    c[0] += freq[wi];
                    if (after[i] == merged || after[i + 1] == merged) {
                        created.put(k, c);
                        wordsWithPair.computeIfAbsent(k, x -> new IntList()).add(wi);
                    }
                }
            }
            pairCount.remove(key);
            // Only pairs with the new token are new; the others only lost counts, which the lazy
            // refresh above handles.
            created.forEach((k, c) -> queue.add(new long[] {c[0], k >>> 32, k & 0xffffffffL}));
        }
        return merges;
    }

    /** Merges every non-overlapping (a, b), left to right, as HF's and GPT-2's encoders do. */
    private static int[] merge(int[] s, int a, int b, int merged) {
        int[] out = new int[s.length];
        int n = 0;
        for (int i = 0; i < s.length; ) {
            if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
                out[n++] = merged;
                i += 2;
            } else {
                out[n++] = s[i++];
            }
        }
        return n == s.length ? s : Arrays.copyOf(out, n);
    }

    private static long pairKey(int a, int b) {
        return ((long) a << 32) | (b & 0xffffffffL);
    }

    private HfTokenizer write(List<int[]> merges, Path outputDir) throws IOException {
        List<String> vocab = new ArrayList<>(List.of(BOS, EOS, PAD));
        for (int b = 0; b < 256; b++) {
            vocab.add(String.valueOf(BYTE_TO_CHAR[b]));
        }
        for (int[] m : merges) {
            vocab.add(vocab.get(m[0]) + vocab.get(m[1]));
        }

        ObjectNode root = HfJson.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.add(HfJson.addedToken(BOS_ID, BOS));
        added.add(HfJson.addedToken(EOS_ID, EOS));
        added.add(HfJson.addedToken(PAD_ID, PAD));
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(false, true));
        root.set("post_processor", byteLevel(true, false));
        root.set("decoder", byteLevel(true, true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        for (int id = 0; id < vocab.size(); id++) {
            v.put(vocab.get(id), id);
        }
        ArrayNode m = model.putArray("merges");
        for (int[] merge : merges) {
            m.addArray().add(vocab.get(merge[0])).add(vocab.get(merge[1]));
        }
        HfJson.write(outputDir.resolve(HfJson.TOKENIZER_JSON), root);
        HfJson.write(outputDir.resolve(HfJson.TOKENIZER_CONFIG_JSON), HfJson.config(BOS, EOS, null, PAD));
        return HfTokenizer.load(outputDir.resolve(HfJson.TOKENIZER_JSON));
    }

    /** HF's ByteLevel component; add_prefix_space only matters to the pre-tokenizer, which gets false. */
    private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
        ObjectNode n = HfJson.MAPPER.createObjectNode();
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", addPrefixSpace);
        n.put("trim_offsets", trimOffsets);
        n.put("use_regex", true);
        return n;
    }

    private static char[] byteToChar() {
        char[] map = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char) b : (char) (256 + extra++);
        }
        return map;
    }

    /** A growable int array; boxing every word index would dominate training time. */
    private static final class IntList {
        int[] items = new int[4];
        int size;

        void add(int v) {
            if (size == items.length) {
                items = Arrays.copyOf(items, size * 2);
            }
            items[size++] = v;
        }
    }
}
