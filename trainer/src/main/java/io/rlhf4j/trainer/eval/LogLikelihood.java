package io.rlhf4j.trainer.eval;

import java.io.IOException;
import java.util.List;

/**
 * The log-likelihood of continuations given a context, as lm-evaluation-harness's
 * {@code loglikelihood} requests define it: the sum of the continuation tokens' log-probabilities
 * under teacher forcing, with the continuation's tokens those of {@code context + continuation}
 * after the tokens of {@code context}. A checkpoint ({@link ModelLikelihood}) or a server's
 * {@code /v1/completions} with {@code echo} computes it.
 */
public interface LogLikelihood {

    /** One log-likelihood per continuation, in order. */
    double[] score(String context, List<String> continuations) throws IOException;
}
