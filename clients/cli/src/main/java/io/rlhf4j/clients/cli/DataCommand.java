package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.trainer.data.SeedImporter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "data", mixinStandardHelpOptions = true, description = "Training data in the store.",
        subcommands = {DataCommand.Import.class})
final class DataCommand {

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = {"Import seed data so training can start without logs. A bad line refuses the whole file.",
                    "demonstrations FILE.jsonl: {\"prompt\", \"completion\"} lines, or self-instruct seed tasks.",
                    "rankings FILE.jsonl: {\"prompt\", \"completions\": [best..worst], \"ranks\"?} with K = 2..12;"
                            + " or InstructGPT's truthful_qa_samples.csv (K = 12 by true x info)."})
    static final class Import implements Callable<Integer> {

        enum Kind { demonstrations, rankings }

        @Mixin
        KeysCommand.StoreOptions store;

        @Parameters(index = "0", description = "demonstrations or rankings")
        Kind kind;

        @Parameters(index = "1", paramLabel = "FILE")
        Path file;

        @Override
        public Integer call() throws Exception {
            try (Store s = store.open()) {
                SeedImporter.Summary r = kind == Kind.demonstrations ? SeedImporter.demonstrations(s, file)
                        : SeedImporter.rankings(s, file);
                System.err.printf("imported %d prompts, %d completions, %d demonstrations, %d rankings from %s%n",
                        r.prompts(), r.completions(), r.demonstrations(), r.rankings(), file);
            }
            return 0;
        }
    }
}
