package io.rlhf4j.demo;

import java.util.List;

/**
 * One task of the demo world: what a user asks ({@link #prompt}) and the answers WordNet holds for it.
 *
 * @param word the lemma asked about (lowercase letters)
 * @param pos "noun", "verb", "adjective" or "adverb"
 * @param prompt {@code kind.prompt(word, pos)}
 * @param references correct answers: for DEFINE the gloss's definition (its quoted examples removed),
 *     for SYNONYM the synset's other lemmas, ANTONYM the word's antonyms, HYPERNYM the lemmas of the
 *     synset's hypernyms, SENTENCE the synset's example sentences that use the word
 */
public record Task(TaskKind kind, String word, String pos, String prompt, List<String> references) {

    public Task {
        references = List.copyOf(references);
        if (references.isEmpty()) {
            throw new IllegalArgumentException("a task needs at least one reference: " + prompt);
        }
        if (!prompt.equals(kind.prompt(word, pos))) {
            throw new IllegalArgumentException(
                    "prompt '" + prompt + "' is not the " + kind + " prompt for " + word + " (" + pos + ")");
        }
    }

    public Task(TaskKind kind, String word, String pos, List<String> references) {
        this(kind, word, pos, kind.prompt(word, pos), references);
    }
}
