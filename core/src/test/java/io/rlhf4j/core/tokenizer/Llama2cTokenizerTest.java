package io.rlhf4j.core.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class Llama2cTokenizerTest {

    static final String STORY = "Once upon a time, there was a little girl named Lily.";
    static final String MULTIBYTE = "naïve café 😀";

    @TempDir
    Path tmp;

    // ---- run.c's rules on a vocabulary small enough to reason about ----

    /** Specials, the 256 byte pieces, then {@code extra} (piece -> score) from id 259 on. */
    public static Path writeBin(Path file, Map<String, Float> extra) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        List<Float> scores = new ArrayList<>(List.of(0f, 0f, 0f));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
            scores.add(0f);
        }
        extra.forEach((p, s) -> {
            pieces.add(p);
            scores.add(s);
        });
        ByteBuffer header =
                ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(16);
        out.write(header.array());
        for (int i = 0; i < pieces.size(); i++) {
            byte[] bytes = pieces.get(i).getBytes(StandardCharsets.UTF_8);
            out.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(scores.get(i))
                    .putInt(bytes.length)
                    .array());
            out.write(bytes);
        }
        Files.write(file, out.toByteArray());
        return file;
    }

    private Llama2cTokenizer tiny() throws IOException {
        Map<String, Float> extra = new LinkedHashMap<>();
        for (String c : List.of(" ", "a", "b", "c", "d")) {
            extra.put(c, -100f);
        }
        extra.put("ab", -1f);
        extra.put("bc", -2f);
        extra.put(" a", -3f);
        extra.put("abc", -4f);
        extra.put("aa", -5f);
        return Llama2cTokenizer.load(writeBin(tmp.resolve("tiny.bin"), extra));
    }

    private static int[] ids(Llama2cTokenizer t, String... pieces) {
        Map<String, Integer> byPiece = new HashMap<>();
        for (int id = t.vocabSize() - 1; id >= 0; id--) {
            byPiece.put(t.tokenText(id), id);
        }
        return java.util.Arrays.stream(pieces).mapToInt(byPiece::get).toArray();
    }

    @Test
    void mergesTheHighestScoringPairFirstAfterTheDummyPrefix() throws IOException {
        Llama2cTokenizer t = tiny();
        // "ab" (-1) beats "bc" (-2) and " a" (-3); then "ab"+"c" makes "abc" (-4).
        assertThat(t.encode("abc", false)).containsExactly(ids(t, " ", "abc"));
        assertThat(t.encode("abc", true)).startsWith(Llama2cTokenizer.BOS_ID).endsWith(ids(t, " ", "abc"));
    }

    @Test
    void equalScoresMergeLeftmostFirst() throws IOException {
        Llama2cTokenizer t = tiny();
        assertThat(t.encode("daaa", false)).containsExactly(ids(t, " ", "d", "aa", "a"));
    }

    @Test
    void unknownCodePointsFallBackToTheirUtf8Bytes() throws IOException {
        Llama2cTokenizer t = tiny();
        assertThat(t.encode("dé😀", false))
                .containsExactly(
                        ids(t, " ")[0], ids(t, "d")[0], 0xC3 + 3, 0xA9 + 3, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3);
    }

    @Test
    void emptyTextHasNoDummyPrefix() throws IOException {
        Llama2cTokenizer t = tiny();
        assertThat(t.encode("", false)).isEmpty();
        assertThat(t.encode("", true)).containsExactly(Llama2cTokenizer.BOS_ID);
        assertThat(t.decode(new int[0])).isEmpty();
    }

    @Test
    void decodeDropsSpecialsAndTheDummyPrefixSpaceAndJoinsBytes() throws IOException {
        Llama2cTokenizer t = tiny();
        int space = ids(t, " ")[0];
        int d = ids(t, "d")[0];
        assertThat(t.decode(new int[] {1, space, d, 0xC3 + 3, 0xA9 + 3, 2})).isEqualTo("dé");
        assertThat(t.decode(new int[] {space, d, space, d})).isEqualTo("d d");
        assertThat(t.decode(new int[] {d, space})).isEqualTo("d ");
        // HF's ByteFallback: a run of bytes that is not UTF-8 is one U+FFFD per byte.
        assertThat(t.decode(new int[] {d, 0xF0 + 3, 0x9F + 3})).isEqualTo("d\uFFFD\uFFFD");
        // A model's padded vocabulary rows are past the tokenizer: they decode to nothing.
        assertThat(t.decode(new int[] {d, t.vocabSize(), d})).isEqualTo("dd");
    }

    // ---- the real stories260K tokenizer ----

    static Llama2cTokenizer stories() throws IOException {
        return Llama2cTokenizer.load(SharedData.require("models/stories260K/tok512.bin"));
    }

    @Test
    void readsStories260kTokenizer() throws IOException {
        Llama2cTokenizer t = stories();
        assertThat(t.vocabSize()).isEqualTo(512);
        assertThat(t.bosId()).isEqualTo(1);
        assertThat(t.eosId()).isEqualTo(2);
        assertThat(t.tokenText(1)).isEqualTo("\n<s>\n");
        assertThat(t.tokenText(3 + 0x0A)).isEqualTo("<0x0A>");
        assertThat(t.maxTokenLength()).isEqualTo(7);
    }

    @Test
    void roundTripsStoryTextAndMultibyteText() throws IOException {
        Llama2cTokenizer t = stories();
        for (String s : List.of(STORY, MULTIBYTE, " leading space", "two\nlines\tand tab", "x")) {
            int[] withBos = t.encode(s, true);
            assertThat(withBos[0]).isEqualTo(1);
            assertThat(t.decode(withBos)).isEqualTo(s);
            assertThat(t.decode(t.encode(s, false))).isEqualTo(s);
        }
        int[] story = t.encode(STORY, true);
        assertThat(story.length).isLessThan(STORY.length() / 2); // merged, not spelled out
        assertThat(t.encode(MULTIBYTE, false)).containsSubsequence(0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3);
    }

    @Test
    void encodesExactlyLikeRunC() throws IOException {
        Llama2cTokenizer t = stories();
        RunC reference = new RunC(Files.readAllBytes(SharedData.require("models/stories260K/tok512.bin")));
        // The reference is quadratic per line, so fewer and shorter lines than elsewhere.
        List<String> texts = new ArrayList<>();
        for (String line : SharedData.evalLines(200)) {
            texts.add(
                    line.codePointCount(0, line.length()) <= 250
                            ? line
                            : line.substring(0, line.offsetByCodePoints(0, 250)));
        }
        texts.addAll(List.of(STORY, MULTIBYTE, "", " ", "  ", "\n", "ünïcödé ∑ 日本語", "a<s>b</s>"));
        for (String s : texts) {
            for (boolean bos : new boolean[] {false, true}) {
                assertThat(t.encode(s, bos)).as("%s (bos %s)", s, bos).containsExactly(reference.encode(s, bos));
            }
            assertThat(t.decode(t.encode(s, true))).isEqualTo(s);
        }
    }

    @Test
    void encodesConcurrently() throws IOException {
        Llama2cTokenizer t = stories();
        List<String> texts = SharedData.evalLines(200);
        List<int[]> sequential = texts.stream().map(s -> t.encode(s, true)).toList();
        List<int[]> parallel =
                texts.parallelStream().map(s -> t.encode(s, true)).toList();
        IntStream.range(0, texts.size())
                .forEach(i -> assertThat(parallel.get(i)).isEqualTo(sequential.get(i)));
    }

    @Test
    void savedHfTokenizerEncodesAndDecodesTheSame() throws IOException {
        Llama2cTokenizer t = stories();
        Path dir = tmp.resolve("ckpt");
        t.save(dir);
        HfTokenizer hf = HfTokenizer.load(dir.resolve("tokenizer.json"));
        assertThat(hf.vocabSize()).isEqualTo(512);
        assertThat(hf.bosId()).isEqualTo(1);
        assertThat(hf.eosId()).isEqualTo(2);
        assertThat(hf.tokenText(1)).isEqualTo("<s>");
        assertThat(hf.tokenText(300)).isEqualTo(t.tokenText(300).replace(' ', '\u2581'));

        List<String> texts = new ArrayList<>(SharedData.evalLines(400));
        texts.addAll(List.of(
                STORY,
                MULTIBYTE,
                "",
                " ",
                "  two  spaces ",
                "tab\there\nnewline",
                "ünïcödé ∑ 日本語 👍🏽",
                "\u00a0nbsp",
                "<0x41> is not a byte"));
        int compared = 0;
        for (String s : texts) {
            if (s.contains("<s>") || s.contains("</s>") || s.contains("<unk>")) {
                continue; // HF turns these spellings into the special tokens; llama2.c does not
            }
            int[] ids = t.encode(s, false);
            assertThat(hf.encode(s, false)).as(s).containsExactly(ids);
            assertThat(hf.encode(s, true)).as(s).containsExactly(t.encode(s, true));
            assertThat(hf.decode(ids)).as(s).isEqualTo(t.decode(ids)).isEqualTo(s);
            compared++;
        }
        assertThat(compared).isGreaterThan(300);
        // Decoding ids that did not come from encode: specials in the middle, partial characters.
        int[] odd = {5, 1, 300, 2, 0xF0 + 3, 0x9F + 3, 400, 0, 3 + ' ', 3 + 'A'};
        assertThat(hf.decode(odd)).isEqualTo(t.decode(odd));
    }

    /** llama2.c's run.c encode(), transcribed on bytes, quadratic scan and all, as the reference. */
    static final class RunC {
        final List<byte[]> vocab = new ArrayList<>();
        final List<Float> scores = new ArrayList<>();
        final Map<String, Integer> sorted = new HashMap<>();

        RunC(byte[] file) {
            ByteBuffer buf = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            buf.getInt();
            while (buf.hasRemaining()) {
                scores.add(buf.getFloat());
                byte[] b = new byte[buf.getInt()];
                buf.get(b);
                vocab.add(b);
            }
            for (int i = vocab.size() - 1; i >= 0; i--) {
                sorted.put(key(vocab.get(i)), i);
            }
        }

        static String key(byte[] b) {
            return new String(b, StandardCharsets.ISO_8859_1);
        }

        int lookup(String k) {
            return sorted.getOrDefault(k, -1);
        }

        int[] encode(String str, boolean bos) {
            byte[] text = str.getBytes(StandardCharsets.UTF_8);
            List<Integer> tokens = new ArrayList<>();
            if (bos) {
                tokens.add(1);
            }
            if (text.length > 0) {
                tokens.add(lookup(" "));
            }
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            for (int c = 0; c < text.length; c++) {
                if ((text[c] & 0xC0) != 0x80) {
                    buffer.reset();
                }
                buffer.write(text[c]);
                boolean nextIsContinuation = c + 1 < text.length && (text[c + 1] & 0xC0) == 0x80;
                if (nextIsContinuation && buffer.size() < 4) {
                    continue;
                }
                byte[] piece = buffer.toByteArray();
                int id = lookup(key(piece));
                if (id != -1) {
                    tokens.add(id);
                } else {
                    for (byte b : piece) {
                        tokens.add((b & 0xff) + 3);
                    }
                }
                buffer.reset();
            }
            while (true) {
                float bestScore = -1e10f;
                int bestId = -1;
                int bestIdx = -1;
                for (int i = 0; i < tokens.size() - 1; i++) {
                    String merged = key(vocab.get(tokens.get(i))) + key(vocab.get(tokens.get(i + 1)));
                    int id = lookup(merged);
                    if (id != -1 && scores.get(id) > bestScore) {
                        bestScore = scores.get(id);
                        bestId = id;
                        bestIdx = i;
                    }
                }
                if (bestIdx == -1) {
                    break;
                }
                tokens.set(bestIdx, bestId);
                tokens.remove(bestIdx + 1);
            }
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }
}
