package io.rlhf4j.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.HfTokenizer;
import io.rlhf4j.core.tokenizer.Llama2cTokenizer;
import io.rlhf4j.core.tokenizer.Llama2cTokenizerTest;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class IncrementalDetokenizerTest {

    /** Words the llama2.c vocabulary has pieces for; every other character falls back to bytes. */
    static final List<String> PIECES = List.of(
            " ", "a", "e", "t", "h", "c", "o", "n", " the", " cat", " a", "the", "on", " on", "é", " café", "ca", "at",
            ".", ",");
    /** Characters of one to four UTF-8 bytes, none of them a piece of the llama2.c vocabulary. */
    static final List<String> CHARS = List.of("x", "Q", "ï", "ñ", "δ", "Ж", "日", "本", "語", "€", "😀", "👍", "\n");

    static Llama2cTokenizer llama;
    static HfTokenizer llamaHf;
    static HfTokenizer byteLevel;

    @BeforeAll
    static void tokenizers(@TempDir Path tmp) throws IOException {
        Map<String, Float> extra = new LinkedHashMap<>();
        for (int i = 0; i < PIECES.size(); i++) {
            extra.put(PIECES.get(i), -i - 1f);
        }
        llama = Llama2cTokenizer.load(Llama2cTokenizerTest.writeBin(tmp.resolve("tok.bin"), extra));
        // The same vocabulary as an HF tokenizer.json: HF's own ByteFallback, Fuse and Strip decoders.
        llama.save(tmp.resolve("llama-hf"));
        llamaHf = HfTokenizer.load(tmp.resolve("llama-hf"));
        List<String> corpus = new ArrayList<>();
        Random r = new Random(3);
        for (int i = 0; i < 400; i++) {
            StringBuilder sb = new StringBuilder();
            for (int w = 0; w < 8; w++) {
                sb.append(w == 0 ? "" : " ")
                        .append(CHARS.get(r.nextInt(CHARS.size())))
                        .append(PIECES.get(r.nextInt(PIECES.size())).trim());
            }
            corpus.add(sb.toString());
        }
        byteLevel = new ByteLevelBpeTrainer(400).train(corpus, tmp.resolve("byte-level"));
    }

    static Stream<Tokenizer> byteFallback() {
        return Stream.of(llama, llamaHf);
    }

    /** Feeds {@code generated} one token at a time; the pieces returned, then what flush returns. */
    static List<String> deltas(Tokenizer tok, int[] prompt, int[] generated) {
        IncrementalDetokenizer d = new IncrementalDetokenizer(tok, prompt);
        List<String> out = new ArrayList<>();
        for (int t : generated) {
            out.add(d.add(t));
        }
        out.add(d.flush());
        return out;
    }

    /** The text the completion adds to its prompt, from two whole decodes. */
    static String expected(Tokenizer tok, int[] prompt, int[] generated) {
        int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String head = tok.decode(prompt);
        String whole = tok.decode(all);
        assertThat(whole).startsWith(head);
        return whole.substring(head.length());
    }

    static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = (b[i] & 0xff) + Llama2cTokenizer.BYTE_OFFSET;
        }
        return ids;
    }

    static int[] concat(int[]... parts) {
        return Stream.of(parts).flatMapToInt(Arrays::stream).toArray();
    }

    /** Ids of llama2.c pieces (the same ids in its HF form). */
    static int[] pieces(String... pieces) {
        return Stream.of(pieces)
                .mapToInt(p -> {
                    for (int id = 259; id < llama.vocabSize(); id++) {
                        if (llama.tokenText(id).equals(p)) {
                            return id;
                        }
                    }
                    throw new IllegalArgumentException(p);
                })
                .toArray();
    }

    static final int[] BOS = {Llama2cTokenizer.BOS_ID};

    @ParameterizedTest
    @MethodSource("byteFallback")
    void aCharacterSplitOverByteTokensAppearsWhenItsLastByteArrives(Tokenizer tok) {
        int[] prompt = concat(BOS, pieces("the", " cat"));
        // 日 is three byte tokens, 😀 four: nothing shows until the character is whole.
        assertThat(deltas(tok, prompt, concat(bytes("日"), bytes("😀"), pieces(" a"))))
                .containsExactly("", "", "日", "", "", "", "😀", " a", "");
        // A character complete in one piece shows at once.
        assertThat(deltas(tok, prompt, pieces(" café", "é"))).containsExactly(" café", "é", "");
    }

    @ParameterizedTest
    @MethodSource("byteFallback")
    void textBeforeAnIncompleteCharacterIsShownAtOnceAndTheRestAtTheEnd(Tokenizer tok) {
        int[] half = Arrays.copyOf(bytes("€"), 2);
        assertThat(deltas(tok, concat(BOS, pieces("on")), concat(pieces(" a"), half)))
                .containsExactly(" a", "", "", "\uFFFD\uFFFD");
        assertThat(deltas(tok, concat(BOS, pieces("on")), concat(pieces(" a"), bytes("ï"), pieces("."), half)))
                .containsExactly(" a", "", "ï", ".", "", "", "\uFFFD\uFFFD");
    }

    @ParameterizedTest
    @MethodSource("byteFallback")
    void keepsSentencePieceSpacingAtTheStartAndAfterThePrompt(Tokenizer tok) {
        // After BOS alone the leading space goes, as a whole decode drops it; after text it stays.
        assertThat(String.join("", deltas(tok, BOS, pieces(" the", " cat")))).isEqualTo("the cat");
        assertThat(String.join("", deltas(tok, concat(BOS, pieces("a")), pieces(" the", " cat"))))
                .isEqualTo(" the cat");
        // The look-back holds only tokens without text: it reaches back to the prompt's text.
        assertThat(String.join("", deltas(tok, concat(BOS, pieces("a"), new int[] {2, 2, 2, 2, 2, 2}), pieces(" the"))))
                .isEqualTo(" the");
        // The look-back starts inside 😀, whose byte run the completion's bytes continue.
        int[] prompt = concat(BOS, pieces(" the"), bytes("😀"), bytes("日"));
        assertThat(String.join("", deltas(tok, prompt, concat(bytes("本"), pieces(" a")))))
                .isEqualTo("本 a");
    }

    @ParameterizedTest
    @MethodSource("byteFallback")
    void deltasAddUpToTheWholeDecodeForRandomByteFallbackSequences(Tokenizer tok) {
        Random r = new Random(11);
        for (int trial = 0; trial < 400; trial++) {
            int[] prompt = concat(new int[] {Llama2cTokenizer.BOS_ID}, randomUnits(tok, r, r.nextInt(12)));
            int[] generated = randomUnits(tok, r, 1 + r.nextInt(30));
            List<String> d = deltas(tok, prompt, generated);
            assertThat(String.join("", d))
                    .as("trial %d: %s + %s", trial, Arrays.toString(prompt), Arrays.toString(generated))
                    .isEqualTo(expected(tok, prompt, generated));
            assertThat(d.subList(0, d.size() - 1)).noneMatch(s -> s.endsWith("\uFFFD"));
        }
    }

    /**
     * Random sequences whose characters complete: each unit is a random vocabulary piece, a special
     * token, or the byte tokens of a random character.
     */
    private static int[] randomUnits(Tokenizer tok, Random r, int units) {
        List<int[]> parts = new ArrayList<>();
        for (int u = 0; u < units; u++) {
            int kind = r.nextInt(10);
            if (kind < 5) {
                parts.add(new int[] {259 + r.nextInt(tok.vocabSize() - 259)});
            } else if (kind == 5) {
                parts.add(new int[] {r.nextInt(3)}); // unk, BOS, EOS: dropped by decode
            } else {
                parts.add(bytes(CHARS.get(r.nextInt(CHARS.size()))));
            }
        }
        return concat(parts.toArray(int[][]::new));
    }

    @Test
    void deltasAddUpToTheWholeDecodeForRandomByteLevelSequences() {
        // Any ids at all: byte-level tokens hold arbitrary byte strings (parts of characters, invalid
        // UTF-8), specials, and ids past the vocabulary, as a model with a padded embedding samples.
        Random r = new Random(5);
        int vocab = byteLevel.vocabSize();
        for (int trial = 0; trial < 400; trial++) {
            // A prompt is text; the completion is any ids.
            int[] prompt = byteLevel.encode(
                    byteLevel.decode(r.ints(r.nextInt(12), 3, vocab).toArray()).replace("\uFFFD", ""), true);
            int[] generated = r.ints(1 + r.nextInt(40), 0, vocab + 8).toArray();
            List<String> d = deltas(byteLevel, prompt, generated);
            assertThat(String.join("", d))
                    .as("trial %d: %s + %s", trial, Arrays.toString(prompt), Arrays.toString(generated))
                    .isEqualTo(expected(byteLevel, prompt, generated));
            assertThat(d.subList(0, d.size() - 1)).noneMatch(s -> s.endsWith("\uFFFD"));
        }
    }

    @Test
    void aByteLevelCharacterSplitAcrossTokensWaitsForItsLastByte() {
        // 😀 is F0 9F 98 80; byte tokens are id 3 + byte.
        int[] emoji = {3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80};
        int[] prompt = byteLevel.encode("x", true);
        assertThat(deltas(byteLevel, prompt, concat(new int[] {3 + 'a'}, emoji, new int[] {3 + 'b'})))
                .containsExactly("a", "", "", "", "😀", "b", "");
        // Invalid bytes show as the tokenizer decodes them, once the next character follows.
        assertThat(deltas(byteLevel, prompt, new int[] {3 + 0x80, 3 + 'b', 3 + 0xF0}))
                .containsExactly("", "\uFFFDb", "", "\uFFFD");
    }

    @Test
    void eachStepDecodesAWindowThatDoesNotGrowWithTheSequence() {
        List<Integer> lengths = new ArrayList<>();
        Tokenizer counting = new CountingTokenizer(llama, lengths);
        Random r = new Random(2);
        int[] prompt = concat(new int[] {Llama2cTokenizer.BOS_ID}, randomUnits(llama, r, 900));
        IncrementalDetokenizer d = new IncrementalDetokenizer(counting, prompt);
        StringBuilder text = new StringBuilder();
        int[] generated = randomUnits(llama, r, 2000);
        for (int t : generated) {
            text.append(d.add(t));
        }
        text.append(d.flush());
        assertThat(text.toString()).isEqualTo(expected(llama, prompt, generated));
        // At most a character's bytes plus the look-back: never the prompt or the completion.
        assertThat(lengths.stream().mapToInt(Integer::intValue).max().orElseThrow())
                .isLessThanOrEqualTo(16);
        assertThat(lengths.size()).isLessThanOrEqualTo(2 * generated.length + 16);
    }

    /** Records the length of every sequence it decodes. */
    private record CountingTokenizer(Tokenizer inner, List<Integer> lengths) implements Tokenizer {
        @Override
        public String decode(int[] ids) {
            lengths.add(ids.length);
            return inner.decode(ids);
        }

        @Override
        public int[] encode(String text, boolean addBos) {
            return inner.encode(text, addBos);
        }

        @Override
        public int vocabSize() {
            return inner.vocabSize();
        }

        @Override
        public int bosId() {
            return inner.bosId();
        }

        @Override
        public int eosId() {
            return inner.eosId();
        }

        @Override
        public String tokenText(int id) {
            return inner.tokenText(id);
        }

        @Override
        public void save(Path checkpointDir) {
            throw new UnsupportedOperationException();
        }
    }
}
