package io.rlhf4j.demo;

/**
 * The kinds of instruction a simulated user asks about one WordNet lemma. Each prompt is a short
 * fixed instruction, different per kind, followed by the pretraining cue {@code <word> (<pos>):}, so
 * the base model, which saw every gloss in the form {@code dog, domestic dog (noun): a member of ...},
 * starts from what it already knows about the word.
 */
public enum TaskKind {
    DEFINE("Define: "),
    SYNONYM("Synonym of: "),
    ANTONYM("Antonym of: "),
    HYPERNYM("More general word for: "),
    SENTENCE("Use in a sentence: ");

    private final String instruction;

    TaskKind(String instruction) {
        this.instruction = instruction;
    }

    /** The prompt for {@code word} as part of speech {@code pos}, e.g. {@code Define: dog (noun):}. */
    public String prompt(String word, String pos) {
        return instruction + word + " (" + pos + "):";
    }
}
