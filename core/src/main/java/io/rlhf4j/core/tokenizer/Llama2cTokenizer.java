package io.rlhf4j.core.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * llama2.c's {@code tokenizer.bin}: a SentencePiece BPE vocabulary with one score per piece.
 *
 * <p>Encoding follows {@code encode()} in llama2.c's {@code run.c}: a dummy-prefix space, one piece
 * per code point (falling back to the byte pieces {@code <0xXX>}, id = byte + 3), then the adjacent
 * pair whose concatenation is the highest-scoring vocabulary piece is merged, leftmost first on
 * ties, until no pair merges. run.c rescans the whole sequence per merge (quadratic); a heap gives
 * the same choices in O(n log n), which matters for long prompts.
 *
 * <p>Decoding follows HF's Llama decoder (and SentencePiece), which differs from {@code run.c}'s
 * {@code decode()} in one respect: the dummy-prefix space is stripped from the start of the text
 * whether or not a BOS precedes it, so {@code decode(encode(s, false)) == s} as well.
 * Special tokens (unk, BOS, EOS) are dropped.
 *
 * <p>Ids 0, 1, 2 are {@code <unk>}, BOS and EOS, as run.c hard-codes them.
 */
public final class Llama2cTokenizer implements Tokenizer {

    public static final int UNK_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    /** Byte b is token {@code b + BYTE_OFFSET}, as in run.c. */
    public static final int BYTE_OFFSET = 3;

    private static final int FIRST_NORMAL_ID = BYTE_OFFSET + 256;

    private final int maxTokenLength;
    private final String[] pieces;
    private final float[] scores;
    /** Piece text to id, first id winning like run.c's lookup on a well-formed vocabulary. */
    private final Map<String, Integer> idsByPiece;
    /** (left id, right id) packed in a long -> id of the concatenation; the only merges run.c can make. */
    private final Map<Long, Integer> merges;

    private Llama2cTokenizer(int maxTokenLength, String[] pieces, float[] scores) {
        this.maxTokenLength = maxTokenLength;
        this.pieces = pieces;
        this.scores = scores;
        Map<String, Integer> ids = new HashMap<>();
        for (int id = FIRST_NORMAL_ID; id < pieces.length; id++) {
            ids.putIfAbsent(pieces[id], id);
        }
        this.idsByPiece = ids;
        // Enumerating splits of each piece is cheaper than run.c's lookup of every adjacent pair at
        // encode time. Specials and byte pieces are neither operands nor results of a merge: text
        // must not turn into "<unk>" or into a byte through its spelling "<0x41>".
        Map<Long, Integer> m = new HashMap<>();
        for (int id = FIRST_NORMAL_ID; id < pieces.length; id++) {
            String p = pieces[id];
            if (ids.get(p) != id) {
                continue;
            }
            for (int k = 1; k < p.length(); k++) {
                if (Character.isLowSurrogate(p.charAt(k))) {
                    continue;
                }
                Integer left = ids.get(p.substring(0, k));
                Integer right = ids.get(p.substring(k));
                if (left != null && right != null) {
                    m.put(pairKey(left, right), id);
                }
            }
        }
        this.merges = m;
    }

    /** Reads a {@code tokenizer.bin}; the exception message names the file when it is corrupt. */
    public static Llama2cTokenizer load(Path file) throws IOException {
        byte[] data = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            throw corrupt(file, "shorter than its 4-byte header");
        }
        int maxTokenLength = buf.getInt();
        if (maxTokenLength <= 0) {
            throw corrupt(file, "max_token_length " + maxTokenLength);
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (buf.hasRemaining()) {
            int id = pieces.size();
            if (buf.remaining() < 8) {
                throw corrupt(file, "truncated in the header of token " + id);
            }
            float score = buf.getFloat();
            int len = buf.getInt();
            if (len < 0 || len > buf.remaining()) {
                throw corrupt(
                        file, "truncated in token " + id + " (length " + len + ", " + buf.remaining() + " bytes left)");
            }
            byte[] bytes = new byte[len];
            buf.get(bytes);
            pieces.add(new String(bytes, StandardCharsets.UTF_8));
            scores.add(score);
        }
        if (pieces.size() < FIRST_NORMAL_ID) {
            throw corrupt(file, "only " + pieces.size() + " tokens; byte fallback needs ids 3..258");
        }
        for (int b = 0; b < 256; b++) {
            if (!pieces.get(BYTE_OFFSET + b).equals(bytePiece(b))) {
                throw corrupt(
                        file,
                        "token " + (BYTE_OFFSET + b) + " is '" + pieces.get(BYTE_OFFSET + b) + "', expected "
                                + bytePiece(b));
            }
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new Llama2cTokenizer(maxTokenLength, pieces.toArray(new String[0]), s);
    }

    private static IOException corrupt(Path file, String why) {
        return new IOException("corrupt llama2.c tokenizer " + file + ": " + why);
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        int[] ids = new int[(text.isEmpty() ? 0 : 1 + 4 * text.length()) + 1];
        int n = 0;
        if (addBos) {
            ids[n++] = BOS_ID;
        }
        int start = n;
        if (!text.isEmpty()) {
            n = appendCodePoint(ids, n, ' '); // the dummy prefix
            for (int i = 0; i < text.length(); ) {
                int cp = text.codePointAt(i);
                n = appendCodePoint(ids, n, cp);
                i += Character.charCount(cp);
            }
        }
        n = start + mergeAll(ids, start, n - start);
        return Arrays.copyOf(ids, n);
    }

    private int appendCodePoint(int[] ids, int n, int cp) {
        String s = new String(Character.toChars(cp));
        Integer id = idsByPiece.get(s);
        if (id != null) {
            ids[n++] = id;
        } else {
            for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
                ids[n++] = (b & 0xff) + BYTE_OFFSET;
            }
        }
        return n;
    }

    /** Merges ids[off, off+len) in place; returns the new length. */
    private int mergeAll(int[] ids, int off, int len) {
        if (len < 2) {
            return len;
        }
        int[] tok = Arrays.copyOfRange(ids, off, off + len);
        int[] next = new int[len];
        int[] prev = new int[len];
        for (int i = 0; i < len; i++) {
            next[i] = i + 1 < len ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // Candidate = {left position, right position, merged id}. A symbol keeps the position of its
        // leftmost character, so "smallest left position" is run.c's "leftmost" at every step.
        PriorityQueue<int[]> heap = new PriorityQueue<>(
                Comparator.<int[]>comparingDouble(c -> -scores[c[2]]).thenComparingInt(c -> c[0]));
        for (int i = 0; i + 1 < len; i++) {
            offer(heap, tok, i, i + 1);
        }
        while (!heap.isEmpty()) {
            int[] c = heap.poll();
            int l = c[0];
            int r = c[1];
            // Stale when either side has merged since the candidate was made.
            if (tok[l] < 0 || next[l] != r || merges.getOrDefault(pairKey(tok[l], tok[r]), -1) != c[2]) {
                continue;
            }
            tok[l] = c[2];
            tok[r] = -1;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            if (prev[l] >= 0) {
                offer(heap, tok, prev[l], l);
            }
            if (next[l] >= 0) {
                offer(heap, tok, l, next[l]);
            }
        }
        int n = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            ids[off + n++] = tok[i];
        }
        return n;
    }

    private void offer(PriorityQueue<int[]> heap, int[] tok, int l, int r) {
        Integer merged = merges.get(pairKey(tok[l], tok[r]));
        if (merged != null) {
            heap.add(new int[] {l, r, merged});
        }
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xffffffffL);
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder out = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            // Ids past the vocabulary (a model's padded embedding rows) decode to nothing.
            if (id < 0 || id >= pieces.length || id == UNK_ID || id == BOS_ID || id == EOS_ID) {
                continue;
            }
            if (id < FIRST_NORMAL_ID) {
                bytes.write(id - BYTE_OFFSET);
            } else {
                flushBytes(bytes, out);
                out.append(pieces[id]);
            }
        }
        flushBytes(bytes, out);
        return out.length() > 0 && out.charAt(0) == ' ' ? out.substring(1) : out.toString();
    }

    /**
     * A run of byte tokens becomes its UTF-8 text, or one U+FFFD per byte when it is not valid
     * UTF-8: HF's ByteFallback decoder, so that both decoders agree on partial characters too.
     */
    static void flushBytes(ByteArrayOutputStream bytes, StringBuilder out) {
        if (bytes.size() == 0) {
            return;
        }
        byte[] b = bytes.toByteArray();
        bytes.reset();
        try {
            out.append(StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)));
        } catch (java.nio.charset.CharacterCodingException e) {
            out.append("\uFFFD".repeat(b.length));
        }
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return BOS_ID;
    }

    @Override
    public int eosId() {
        return EOS_ID;
    }

    /** The piece as stored in tokenizer.bin: spaces as ' ', BOS as "\n&lt;s&gt;\n". */
    @Override
    public String tokenText(int id) {
        checkId(id);
        return pieces[id];
    }

    /** The piece's score in tokenizer.bin; a higher score merges first. */
    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + pieces.length);
        }
    }

    /**
     * Writes the equivalent HF Llama tokenizer (BPE with byte fallback). HF applies merges by rank,
     * llama2.c by the score of the merged piece, so the merges are every pair run.c could merge,
     * ranked by that score (descending), then by the merged id and split position for a total order.
     * The two agree except when two overlapping pairs spell the same piece ("ab"+"a" vs "a"+"ba"):
     * run.c takes the leftmost, HF the lower rank.
     */
    @Override
    public void save(Path checkpointDir) throws IOException {
        HfJson.write(checkpointDir.resolve(HfJson.TOKENIZER_JSON), toHfJson());
        HfJson.write(checkpointDir.resolve(HfJson.TOKENIZER_CONFIG_JSON), HfJson.config("<s>", "</s>", "<unk>", null));
    }

    ObjectNode toHfJson() {
        String[] hfPieces = new String[pieces.length];
        Map<String, Integer> seen = new HashMap<>();
        for (int id = 0; id < pieces.length; id++) {
            hfPieces[id] = switch (id) {
                case UNK_ID -> "<unk>";
                case BOS_ID -> "<s>";
                case EOS_ID -> "</s>";
                default -> pieces[id].replace(' ', '\u2581');
            };
            Integer other = seen.putIfAbsent(hfPieces[id], id);
            if (other != null) {
                throw new IllegalStateException("tokens " + other + " and " + id + " are both '" + hfPieces[id]
                        + "' in HF form; tokenizer.json cannot hold duplicates");
            }
        }
        List<long[]> ranked = new ArrayList<>(); // {left, right, merged, split position}
        for (Map.Entry<Long, Integer> e : merges.entrySet()) {
            int left = (int) (e.getKey() >>> 32);
            int right = (int) (long) e.getKey();
            ranked.add(new long[] {left, right, e.getValue(), pieces[left].length()});
        }
        ranked.sort(Comparator.<long[]>comparingDouble(m -> -scores[(int) m[2]])
                .thenComparingLong(m -> m[2])
                .thenComparingLong(m -> m[3]));

        ObjectNode root = HfJson.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.add(HfJson.addedToken(UNK_ID, "<unk>"));
        added.add(HfJson.addedToken(BOS_ID, "<s>"));
        added.add(HfJson.addedToken(EOS_ID, "</s>"));

        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        norms.addObject().put("type", "Prepend").put("prepend", "\u2581");
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "\u2581");

        root.putNull("pre_tokenizer");

        // BOS on add_special_tokens=true, as in HF's Llama files; HfTokenizer never asks for it.
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>");
        bos.put("id", "<s>");
        bos.putArray("ids").add(BOS_ID);
        bos.putArray("tokens").add("<s>");

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decs = decoder.putArray("decoders");
        ObjectNode unspace = decs.addObject().put("type", "Replace");
        unspace.putObject("pattern").put("String", "\u2581");
        unspace.put("content", " ");
        decs.addObject().put("type", "ByteFallback");
        decs.addObject().put("type", "Fuse");
        decs.addObject()
                .put("type", "Strip")
                .put("content", " ")
                .put("start", 1)
                .put("stop", 0);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < hfPieces.length; id++) {
            vocab.put(hfPieces[id], id);
        }
        ArrayNode mergeList = model.putArray("merges");
        for (long[] m : ranked) {
            mergeList.addArray().add(hfPieces[(int) m[0]]).add(hfPieces[(int) m[1]]);
        }
        return root;
    }

    private static String bytePiece(int b) {
        return String.format("<0x%02X>", b);
    }
}
