package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = "Complete a prompt with a checkpoint; prints only the generated text.")
final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "checkpoint directory")
    Path model;

    @Option(names = "--prompt", defaultValue = "", description = "prompt text; empty means BOS only (default)")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "256", description = "new tokens at most (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 is greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus mass (default ${DEFAULT-VALUE})")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k likeliest tokens; 0 keeps all")
    int topK;

    @Option(names = "--seed", description = "seed for reproducible sampling")
    Long seed;

    @Option(names = "--stop", description = "stop sequence (repeatable); the text ends before it")
    List<String> stop;

    @Override
    public Integer call() throws Exception {
        SamplingParams params = new SamplingParams(maxTokens, temperature, topP, topK, stop, seed);
        Tokenizer tokenizer = Checkpoint.readTokenizer(model);
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                Decoder decoder = Decoder.load(model, manager)) {
            Generation g = new Generator(decoder, tokenizer).generate(prompt, params);
            System.out.println(g.text());
        }
        return 0;
    }
}
