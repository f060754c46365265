package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.eval.LogLikelihood;
import io.rlhf4j.trainer.eval.ModelLikelihood;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where a log-likelihood evaluation gets its scores: a checkpoint, or a running server. */
final class LikelihoodTarget {
    @Option(names = "--model", paramLabel = "DIR", description = "a checkpoint")
    Path model;

    @Option(
            names = "--server",
            paramLabel = "URL",
            description = "a running rlhf4j serve (or any server with OpenAI's echo log-probabilities)")
    String server;

    @Option(names = "--api-key", description = "for --server; default $RLHF4J_API_KEY")
    String apiKey;

    String name() {
        return model != null ? model.toString() : server;
    }

    /** Runs {@code evaluation} with the target's scorer. */
    <T> T run(Evaluation<T> evaluation) throws Exception {
        if ((model == null) == (server == null)) {
            throw new IllegalArgumentException("give one of --model DIR or --server URL");
        }
        if (server != null) {
            return evaluation.run(new ServerLikelihood(Rlhf4jClient.builder()
                    .baseUrl(server)
                    .apiKey(apiKey != null ? apiKey : System.getenv("RLHF4J_API_KEY"))
                    .build()));
        }
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                var d = Decoder.load(model, m)) {
            return evaluation.run(new ModelLikelihood(d, Checkpoint.readTokenizer(model)));
        }
    }

    interface Evaluation<T> {
        T run(LogLikelihood scorer) throws Exception;
    }
}
