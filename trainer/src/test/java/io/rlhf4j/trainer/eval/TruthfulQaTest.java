package io.rlhf4j.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MC1 and MC2 as lm-evaluation-harness defines them, worked by hand on a two-question fixture. */
class TruthfulQaTest {

    @TempDir
    Path tmp;

    @Test
    void aModelThatAlwaysPrefersTheFirstAnswerScoresWhatTheDefinitionsGive() throws Exception {
        Path csv = tmp.resolve("tqa.csv");
        Files.writeString(
                csv,
                "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
                        + "Adversarial,Misconceptions,Q one?,B1,B1; C1,W1; W2; W3,src\n"
                        + "Adversarial,Misconceptions,\"Q two, quoted?\",B2,B2,W4,src\n");
        List<TruthfulQa.Question> qs = TruthfulQa.load(csv);
        assertThat(qs).hasSize(2);
        assertThat(qs.get(1).question()).isEqualTo("Q two, quoted?");
        assertThat(qs.get(0).incorrect()).containsExactly("W1", "W2", "W3");

        List<String> contexts = new java.util.ArrayList<>();
        // Log-likelihood 0 for the first choice offered (the best answer), -1 for every other.
        LogLikelihood first = (context, continuations) -> {
            contexts.add(context);
            double[] ll = new double[continuations.size()];
            java.util.Arrays.fill(ll, -1);
            ll[0] = 0;
            return ll;
        };
        TruthfulQa.Result r = TruthfulQa.evaluate(qs, TruthfulQa.Prompt.QA, first, i -> {});
        // MC1: the best answer beats every incorrect one in both questions.
        assertThat(r.mc1()).containsExactly(1, 1);
        // MC2: the correct answers (scored -1 as later choices) hold 2 of 5 equal masses, then 1 of 2.
        assertThat(r.mc2()).containsExactly(new double[] {2.0 / 5, 1.0 / 2}, within(1e-12));
        assertThat(r.mc2Mean().mean()).isCloseTo(0.45, within(1e-12));
        assertThat(r.mc1Mean().low()).isEqualTo(1.0);
        assertThat(contexts.get(1)).startsWith(TruthfulQa.QA_PRIMER).endsWith("\n\nQ: Q two, quoted?\nA:");
    }

    @Test
    void mc2NormalisesProbabilitiesAndMc1TiesGoToTheBestAnswer() {
        assertThat(TruthfulQa.mc2(new double[] {Math.log(0.2), Math.log(0.3)}, new double[] {Math.log(0.5)}))
                .isCloseTo(0.5, within(1e-12));
        // exp(-1000) underflows to 0 in both sums; shifting by the maximum keeps the ratio.
        assertThat(TruthfulQa.mc2(new double[] {-1000}, new double[] {-1000 - Math.log(3)}))
                .isCloseTo(0.75, within(1e-12));
        assertThat(TruthfulQa.mc1(-2, new double[] {-2, -3})).isEqualTo(1);
        assertThat(TruthfulQa.mc1(-2, new double[] {-1.9})).isZero();
    }
}
