package io.rlhf4j.clients.cli;

import io.rlhf4j.trainer.sft.SftConfig;
import io.rlhf4j.trainer.sft.SftTrainer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true, description = "The InstructGPT training stages.",
        subcommands = {TrainCommand.Sft.class})
final class TrainCommand {

    @Command(name = "sft", mixinStandardHelpOptions = true,
            description = {"Supervised fine-tuning on a snapshot's demonstrations (loss on completion tokens only).",
                    "Running again on the same --out resumes an interrupted run; the result is the checkpoint with the "
                            + "lowest validation loss, with training_manifest.json."})
    static final class Sft implements Callable<Integer> {
        private static final SftConfig D = SftConfig.defaults();

        @Option(names = "--snapshot", required = true, paramLabel = "DIR", description = "data/snapshots/snap-N")
        Path snapshot;

        @Option(names = "--model", required = true, paramLabel = "DIR", description = "the base checkpoint")
        Path model;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--epochs") int epochs = D.epochs();
        @Option(names = "--batch-size") int batchSize = D.batchSize();
        @Option(names = "--lr") double lr = D.lr();
        @Option(names = "--min-lr") double minLr = D.minLr();
        @Option(names = "--warmup-steps") int warmup = D.warmupSteps();
        @Option(names = "--weight-decay") double weightDecay = D.weightDecay();
        @Option(names = "--grad-clip") double gradClip = D.gradClip();
        @Option(names = "--dropout", description = "residual dropout (default ${DEFAULT-VALUE})") double dropout = D.dropout();
        @Option(names = "--eval-every") int evalEvery = D.evalEvery();
        @Option(names = "--seed") long seed = D.seed();

        @Override
        public Integer call() throws Exception {
            SftConfig config = new SftConfig(epochs, batchSize, lr, minLr, warmup, weightDecay, gradClip, dropout,
                    evalEvery, seed);
            new SftTrainer(config, System.err).run(snapshot, model, out);
            return 0;
        }
    }
}
