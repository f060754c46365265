package io.rlhf4j.clients.cli;

import io.rlhf4j.client.Completion;
import io.rlhf4j.client.CompletionRequest;
import io.rlhf4j.client.Logprobs;
import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.trainer.eval.LogLikelihood;
import java.util.List;

/**
 * {@link LogLikelihood} from a running server, so an evaluation scores exactly the served version:
 * {@code /v1/completions} with {@code echo}, {@code max_tokens: 0} and {@code logprobs: 0} returns the
 * log-probability of every prompt token; the continuation's are those whose text starts at or after
 * the context's end (lm-evaluation-harness's {@code ctxlen} split, by text offset). Requests carry
 * {@code training_consent: false}: evaluation prompts are not training data.
 */
final class ServerLikelihood implements LogLikelihood {

    private final Rlhf4jClient client;

    ServerLikelihood(Rlhf4jClient client) {
        this.client = client;
    }

    @Override
    public double[] score(String context, List<String> continuations) {
        double[] out = new double[continuations.size()];
        for (int i = 0; i < out.length; i++) {
            Completion c = client.complete(CompletionRequest.builder()
                    .prompt(context + continuations.get(i))
                    .maxTokens(0)
                    .logprobs(0)
                    .echo(true)
                    .trainingConsent(false)
                    .build());
            Logprobs lp = c.choices().get(0).logprobs();
            double sum = 0;
            int counted = 0;
            for (int t = 0; t < lp.tokens().size(); t++) {
                Double x = lp.tokenLogprobs().get(t);
                if (lp.textOffset().get(t) >= context.length() && x != null) {
                    sum += x;
                    counted++;
                }
            }
            if (counted == 0) {
                throw new IllegalStateException(
                        "the server returned no log-probabilities for the continuation '" + continuations.get(i) + "'");
            }
            out[i] = sum;
        }
        return out;
    }
}
