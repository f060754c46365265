package io.rlhf4j.demo;

import io.rlhf4j.trainer.data.WordNetCorpus;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import net.sf.extjwnl.JWNLException;
import net.sf.extjwnl.data.IndexWord;
import net.sf.extjwnl.data.POS;
import net.sf.extjwnl.data.Pointer;
import net.sf.extjwnl.data.PointerType;
import net.sf.extjwnl.data.Synset;
import net.sf.extjwnl.data.Word;
import net.sf.extjwnl.dictionary.Dictionary;

/**
 * The simulated InstructGPT world over WordNet 3.1: the pool of tasks users ask, what a demonstration
 * writer answers, and the gold preference that labelers (noisily) follow.
 *
 * <p>Gold is deliberately mostly correctness and style that a 1M-parameter model pretrained on
 * WordNet's glosses can learn: {@code 0.7 * correctness + 0.3 * style}, both in [0, 1].
 */
public final class DemoWorld {

    /** Lemmas a small byte-level model can spell and a user would plausibly ask about. */
    private static final Pattern LEMMA = Pattern.compile("[a-z]{3,12}");

    private static final Pattern TRAILING_SEPARATORS = Pattern.compile("[;\\s]+$");
    private static final Pattern QUOTED = Pattern.compile("\"([^\"]+)\"");
    private static final Pattern FIRST_ANSWER_END = Pattern.compile("[,.;]");
    /** Function words: they carry no meaning, so they would inflate the F1 of any fluent text. */
    private static final Set<String> STOP_WORDS = Set.of(
            "a",
            "an",
            "the",
            "of",
            "to",
            "in",
            "on",
            "at",
            "by",
            "for",
            "with",
            "from",
            "as",
            "and",
            "or",
            "is",
            "are",
            "be",
            "that",
            "this",
            "it",
            "its",
            "which",
            "who",
            "something",
            "someone");
    /** A sentence task asks for a sentence: a few words, not a phrase and not a paragraph. */
    private static final int SENTENCE_MIN_WORDS = 4;

    private static final int SENTENCE_MAX_WORDS = 20;

    private final Map<TaskKind, List<Task>> tasks;
    private final Map<String, Task> byPrompt;
    /** See {@link #knownNgrams(Collection)}. */
    private final long[] knownNgrams;

    private DemoWorld(Map<TaskKind, List<Task>> tasks, long[] knownNgrams) {
        this.tasks = tasks;
        this.knownNgrams = knownNgrams;
        this.byPrompt = tasks.values().stream()
                .flatMap(List::stream)
                .collect(Collectors.toUnmodifiableMap(Task::prompt, t -> t));
    }

    /** The world, built from WordNet on first use (a few seconds) and shared after that. */
    public static DemoWorld load() {
        return Holder.WORLD;
    }

    // Lazy, thread-safe and built once: the JVM initialises the holder class on first access.
    private static final class Holder {
        static final DemoWorld WORLD = build();
    }

    /** Every task of one kind, in WordNet's index order. */
    public List<Task> tasks(TaskKind kind) {
        return tasks.get(kind);
    }

    /** A task with its kind drawn uniformly first, so rare kinds (antonyms) are not drowned out by DEFINE. */
    public Task randomTask(Random r) {
        List<Task> pool = tasks(TaskKind.values()[r.nextInt(TaskKind.values().length)]);
        return pool.get(r.nextInt(pool.size()));
    }

    /** The task whose prompt is exactly {@code prompt}; empty for any other text. */
    public Optional<Task> parse(String prompt) {
        return Optional.ofNullable(byPrompt.get(prompt));
    }

    /**
     * What a human demonstration writer types: a reference answer (a random one where there are several)
     * after ONE space, because the byte-level BPE tokenizer and the pretraining text put the space after
     * the colon in the token that follows it.
     */
    public String demonstration(Task t, Random r) {
        return " " + t.references().get(r.nextInt(t.references().size()));
    }

    /** The gold preference in [0, 1]: {@code 0.7 * correctness + 0.3 * style}. */
    public double gold(Task t, String completion) {
        return 0.7 * correctness(t, completion) + 0.3 * style(t, completion);
    }

    /**
     * Whether the completion answers the task, in [0, 1] (0 when it has no words).
     * <ul>
     * <li>DEFINE: 0.75 * F1 of content words against the definition (partial definitions earn partial
     * credit) + 0.25 * F1 of word bigrams, stop words kept: a definition is a phrase, not a bag of words
     * ("leaves without" is not "without leaves").
     * <li>SYNONYM, ANTONYM, HYPERNYM: 1 when the first answer (up to the first comma, period or semicolon)
     * is a reference; 0.3 when a reference appears somewhere else, so a buried right answer is still
     * better than none; else 0.
     * <li>SENTENCE: 0.6 for using the word, 0.4 for being 4..20 words long.
     * </ul>
     */
    public double correctness(Task t, String completion) {
        List<String> words = words(completion);
        if (words.isEmpty()) {
            return 0;
        }
        return switch (t.kind()) {
            case DEFINE -> {
                List<String> reference = words(t.references().get(0));
                yield 0.75 * f1(content(words), content(reference)) + 0.25 * f1(bigrams(words), bigrams(reference));
            }
            case SYNONYM, ANTONYM, HYPERNYM -> wordAnswer(t, completion, words);
            case SENTENCE ->
                (words.contains(t.word()) ? 0.6 : 0)
                        + (words.size() >= SENTENCE_MIN_WORDS && words.size() <= SENTENCE_MAX_WORDS ? 0.4 : 0);
        };
    }

    /**
     * How the completion reads, in [0, 1] (0 when it has no words): 1 minus penalties for repeated word
     * bigrams (the classic degenerate loop), for a length far from the nearest reference's (rambling on, or
     * stopping short), and for word trigrams (bigrams in a two-word answer) never seen in WordNet's text:
     * word salad, shuffled or garbled answers. The base model was pretrained on that text, so this is a
     * signal it can learn; trigrams because short shuffles of common words often keep every bigram.
     */
    public double style(Task t, String completion) {
        List<String> words = words(completion);
        if (words.isEmpty()) {
            return 0;
        }
        List<String> pairs = bigrams(words);
        double repetition = pairs.isEmpty() ? 0 : 1.0 - (double) new HashSet<>(pairs).size() / pairs.size();
        double unseen = 0;
        int n = Math.min(3, words.size());
        if (n > 1) {
            int grams = words.size() - n + 1;
            int unknown = 0;
            for (int i = 0; i < grams; i++) {
                if (Arrays.binarySearch(knownNgrams, ngram(words, i, n)) < 0) {
                    unknown++;
                }
            }
            unseen = (double) unknown / grams;
        }
        // |log| of the length ratio: twice too long costs as much as half too short; 8x off is the cap.
        double lengthOff = 1;
        for (String ref : t.references()) {
            double ratio = (words.size() + 1.0) / (words(ref).size() + 1.0);
            lengthOff = Math.min(lengthOff, Math.abs(Math.log(ratio)) / Math.log(8));
        }
        return Math.max(0, 1 - repetition - 0.5 * lengthOff - 0.5 * unseen);
    }

    /** Lowercase ASCII words and numbers, everything else a separator: the unit every gold measure counts in. */
    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : ' ';
            if (c >= 'A' && c <= 'Z') {
                word.append((char) (c + ('a' - 'A')));
            } else if (c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
                word.append(c);
            } else if (word.length() > 0) {
                out.add(word.toString());
                word.setLength(0);
            }
        }
        return out;
    }

    private static List<String> content(List<String> words) {
        return words.stream().filter(w -> !STOP_WORDS.contains(w)).toList();
    }

    private static List<String> bigrams(List<String> words) {
        return IntStream.range(1, words.size())
                .mapToObj(i -> words.get(i - 1) + " " + words.get(i))
                .toList();
    }

    /**
     * F1 of two multisets (each item matched at most as often as the reference holds it); 1 when both are
     * empty (a one-word answer has no bigrams to get wrong), 0 when only one is.
     */
    private static double f1(List<String> predicted, List<String> reference) {
        if (predicted.isEmpty() && reference.isEmpty()) {
            return 1;
        }
        Map<String, Integer> remaining = new HashMap<>();
        reference.forEach(w -> remaining.merge(w, 1, Integer::sum));
        int overlap = 0;
        for (String w : predicted) {
            if (remaining.getOrDefault(w, 0) > 0) {
                remaining.merge(w, -1, Integer::sum);
                overlap++;
            }
        }
        return overlap == 0 ? 0 : 2.0 * overlap / (predicted.size() + reference.size());
    }

    private static double wordAnswer(Task t, String completion, List<String> words) {
        // Compared as words: case, spacing and punctuation ("viz." against "viz") do not make an answer wrong.
        Matcher end = FIRST_ANSWER_END.matcher(completion);
        String first = String.join(" ", words(end.find() ? completion.substring(0, end.start()) : completion));
        String padded = " " + String.join(" ", words) + " ";
        double score = 0;
        for (String ref : t.references()) {
            String answer = String.join(" ", words(ref));
            if (first.equals(answer)) {
                return 1;
            }
            if (padded.contains(" " + answer + " ")) {
                score = 0.3;
            }
        }
        return score;
    }

    /** A 64-bit key of {@code words[from, from + n)}: collisions among a few million keys are negligible. */
    private static long ngram(List<String> words, int from, int n) {
        long h = n;
        for (int i = from; i < from + n; i++) {
            h = h * 0x9e3779b97f4a7c15L + words.get(i).hashCode();
        }
        // SplitMix64's finaliser, so that keys differing in the last word differ in all bits.
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }

    private static DemoWorld build() {
        Dictionary dict = WordNetCorpus.open();
        try {
            Map<Long, Synset> synsets = new HashMap<>();
            for (POS pos : POS.getAllPOS()) {
                var it = dict.getSynsetIterator(pos);
                while (it.hasNext()) {
                    Synset s = it.next();
                    synsets.put(key(pos, s.getOffset()), s);
                }
            }
            Map<TaskKind, List<Task>> tasks = new EnumMap<>(TaskKind.class);
            for (TaskKind k : TaskKind.values()) {
                tasks.put(k, new ArrayList<>());
            }
            for (POS pos : POS.getAllPOS()) {
                var it = dict.getIndexWordIterator(pos);
                while (it.hasNext()) {
                    IndexWord index = it.next();
                    if (LEMMA.matcher(index.getLemma()).matches()) {
                        // The index lists senses most frequent first: the first is what the word usually means.
                        addTasks(tasks, index.getLemma(), synsets.get(key(pos, index.getSynsetOffsets()[0])), synsets);
                    }
                }
            }
            dict.close();
            tasks.replaceAll((k, v) -> Collections.unmodifiableList(v));
            return new DemoWorld(tasks, knownNgrams(synsets.values()));
        } catch (JWNLException e) {
            throw new IllegalStateException("reading WordNet failed: " + e.getMessage(), e);
        }
    }

    private static void addTasks(Map<TaskKind, List<Task>> tasks, String lemma, Synset s, Map<Long, Synset> synsets)
            throws JWNLException {
        Optional<Word> word =
                s.getWords().stream().filter(w -> w.getLemma().equals(lemma)).findFirst();
        if (word.isEmpty()) {
            return; // the index lowercases names: "aachen" is the synset's "Aachen", not a common word
        }
        String pos = s.getPOS().getLabel().toLowerCase(Locale.ROOT);
        String gloss = s.getGloss();
        int quote = gloss.indexOf('"');
        String definition = TRAILING_SEPARATORS
                .matcher(quote < 0 ? gloss : gloss.substring(0, quote))
                .replaceAll("")
                .trim();
        Set<String> synonyms = new LinkedHashSet<>();
        s.getWords().stream()
                .map(Word::getLemma)
                .filter(l -> !l.equalsIgnoreCase(lemma))
                .forEach(synonyms::add);
        Set<String> antonyms = new LinkedHashSet<>();
        for (Pointer p : word.get().getPointers(PointerType.ANTONYM)) {
            Synset target = synsets.get(key(p.getTargetPOS(), p.getTargetOffset()));
            antonyms.add(target.getWords().get(p.getTargetIndex() - 1).getLemma());
        }
        Set<String> hypernyms = new LinkedHashSet<>();
        for (Pointer p : s.getPointers(PointerType.HYPERNYM)) {
            Synset target = synsets.get(key(p.getTargetPOS(), p.getTargetOffset()));
            target.getWords().forEach(w -> hypernyms.add(w.getLemma()));
        }
        List<String> sentences = new ArrayList<>();
        Matcher m = QUOTED.matcher(gloss);
        while (m.find()) {
            List<String> words = words(m.group(1));
            if (words.contains(lemma) && words.size() >= SENTENCE_MIN_WORDS && words.size() <= SENTENCE_MAX_WORDS) {
                sentences.add(m.group(1).trim());
            }
        }
        add(tasks, TaskKind.DEFINE, lemma, pos, definition.isEmpty() ? List.of() : List.of(definition));
        add(tasks, TaskKind.SYNONYM, lemma, pos, List.copyOf(synonyms));
        add(tasks, TaskKind.ANTONYM, lemma, pos, List.copyOf(antonyms));
        add(tasks, TaskKind.HYPERNYM, lemma, pos, List.copyOf(hypernyms));
        add(tasks, TaskKind.SENTENCE, lemma, pos, sentences);
    }

    /**
     * The sorted, distinct keys of every word bigram and trigram in the text the base model was pretrained
     * on, taken within its parts (each lemma, the definition, each quoted example) so none spans two.
     */
    private static long[] knownNgrams(Collection<Synset> synsets) {
        long[] keys = new long[1 << 22];
        int n = 0;
        for (Synset s : synsets) {
            List<String> segments = new ArrayList<>(Arrays.asList(s.getGloss().split("\"")));
            s.getWords().forEach(w -> segments.add(w.getLemma()));
            for (String segment : segments) {
                List<String> words = words(segment);
                for (int i = 0; i + 1 < words.size(); i++) {
                    if (n + 2 > keys.length) {
                        keys = Arrays.copyOf(keys, 2 * keys.length);
                    }
                    keys[n++] = ngram(words, i, 2);
                    if (i + 2 < words.size()) {
                        keys[n++] = ngram(words, i, 3);
                    }
                }
            }
        }
        Arrays.sort(keys, 0, n);
        int distinct = 0;
        for (int i = 0; i < n; i++) {
            if (distinct == 0 || keys[i] != keys[distinct - 1]) {
                keys[distinct++] = keys[i];
            }
        }
        return Arrays.copyOf(keys, distinct);
    }

    private static void add(
            Map<TaskKind, List<Task>> tasks, TaskKind kind, String word, String pos, List<String> references) {
        if (!references.isEmpty()) {
            tasks.get(kind).add(new Task(kind, word, pos, references));
        }
    }

    private static long key(POS pos, long offset) {
        return (long) pos.getId() << 40 | offset;
    }
}
