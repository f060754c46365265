package io.rlhf4j.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CrowS-Pairs' figures worked by hand: the stereotype share, the likelihood gap, the choice's entropy. */
class CrowsPairsTest {

    @TempDir
    Path tmp;

    @Test
    void theFiguresAreWhatTheDefinitionsGiveByHand() throws Exception {
        Path csv = tmp.resolve("crows.csv");
        Files.writeString(
                csv,
                ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
                        + "0,\"Aaa, a.\",Bb.,stereo,gender,[],a0,[]\n"
                        + "1,Cccc.,Dd.,antistereo,gender,[],a1,[]\n"
                        + "2,Ee.,Ffff.,stereo,age,[],a2,[]\n");
        List<CrowsPairs.Pair> pairs = CrowsPairs.load(csv);
        assertThat(pairs.get(0).more()).isEqualTo("Aaa, a.");
        // Longer sentences are likelier: log-likelihood = its length, with an empty context.
        LogLikelihood byLength = (context, sentences) -> {
            assertThat(context).isEmpty();
            return sentences.stream().mapToDouble(String::length).toArray();
        };
        CrowsPairs.Result r = CrowsPairs.evaluate(pairs, byLength, i -> {});
        // Pairs 0 and 1 prefer the more stereotypical sentence, pair 2 does not.
        assertThat(r.all().pctStereotype()).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(r.all().likelihoodDiff()).isCloseTo((4 + 2 + 2) / 3.0, within(1e-12));
        assertThat(r.byBiasType().get("gender").pctStereotype()).isEqualTo(1.0);
        assertThat(r.byBiasType().get("age").n()).isEqualTo(1);
        // A gap of 2 nats: p = 1 / (1 + e^-2) = 0.8808, H = 0.5271 bits.
        assertThat(r.byBiasType().get("age").entropyBits()).isCloseTo(0.52707, within(1e-5));
        assertThat(CrowsPairs.entropyBits(-3, -3)).isCloseTo(1.0, within(1e-12));
    }
}
