package io.rlhf4j.clients.cli;

import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.importer.HfImporter;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "import",
        mixinStandardHelpOptions = true,
        description = "Convert a llama2.c model or an HF checkpoint into an rlhf4j checkpoint directory.")
final class ImportCommand implements Callable<Integer> {

    enum Format {
        llama2c,
        hf
    }

    @Option(names = "--format", required = true, description = "llama2c or hf")
    Format format;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "llama2.c .bin file, or HF checkpoint directory")
    Path source;

    @Option(names = "--tokenizer", paramLabel = "TOK.bin", description = "llama2.c tokenizer (llama2c format only)")
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "checkpoint directory to write")
    Path out;

    @Override
    public Integer call() throws Exception {
        ModelConfig config;
        if (format == Format.llama2c) {
            if (tokenizer == null) {
                throw new IllegalArgumentException("--tokenizer TOK.bin is required with --format llama2c");
            }
            config = Llama2cImporter.importModel(source, tokenizer, out);
        } else {
            config = HfImporter.importDir(source, out, note -> System.err.println("note: " + note));
        }
        System.err.printf(
                "imported %s model (%,d parameters, %d layers, vocab %d) into %s%n",
                config.family().modelType(), config.parameterCount(), config.numLayers(), config.vocabSize(), out);
        return 0;
    }
}
