package io.rlhf4j.clients.cli;

import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.pretrain.PretrainConfig;
import io.rlhf4j.trainer.pretrain.Pretrainer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "pretrain",
        mixinStandardHelpOptions = true,
        description = {
            "Train a small Llama-family model from scratch, with its own byte-level BPE tokenizer, "
                    + "on WordNet 3.1's glosses and examples (bundled, offline).",
            "Running again on the same --out resumes an interrupted run. The defaults make the demo model."
        })
final class PretrainCommand implements Callable<Integer> {

    private static final PretrainConfig D = PretrainConfig.demo();

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "checkpoint directory (resumed if a run is there)")
    Path out;

    @Option(names = "--vocab-size")
    int vocabSize = D.vocabSize();

    @Option(names = "--dim")
    int dim = D.dim();

    @Option(names = "--hidden-dim")
    int hiddenDim = D.hiddenDim();

    @Option(names = "--layers")
    int layers = D.layers();

    @Option(names = "--heads")
    int heads = D.heads();

    @Option(names = "--kv-heads")
    int kvHeads = D.kvHeads();

    @Option(names = "--seq-len")
    int seqLen = D.seqLen();

    @Option(names = "--batch-size")
    int batchSize = D.batchSize();

    @Option(names = "--steps")
    int steps = D.steps();

    @Option(names = "--lr")
    double lr = D.optimizer().lr();

    @Option(names = "--min-lr")
    double minLr = D.minLr();

    @Option(names = "--warmup-steps")
    int warmup = D.warmupSteps();

    @Option(names = "--weight-decay")
    double weightDecay = D.optimizer().weightDecay();

    @Option(names = "--grad-clip")
    double gradClip = D.optimizer().gradClip();

    @Option(names = "--dropout")
    double dropout = D.dropout();

    @Option(names = "--eval-every")
    int evalEvery = D.evalEvery();

    @Option(names = "--eval-batches")
    int evalBatches = D.evalBatches();

    @Option(names = "--checkpoint-every")
    int checkpointEvery = D.checkpointEvery();

    @Option(names = "--validation-percent")
    int validationPercent = D.validationPercent();

    @Option(names = "--seed")
    long seed = D.seed();

    @picocli.CommandLine.Mixin
    DeviceOption device;

    @Override
    public Integer call() throws Exception {
        device.use();
        PretrainConfig config = PretrainConfig.builder()
                .vocabSize(vocabSize)
                .dim(dim)
                .hiddenDim(hiddenDim)
                .layers(layers)
                .heads(heads)
                .kvHeads(kvHeads)
                .seqLen(seqLen)
                .batchSize(batchSize)
                .steps(steps)
                .lr(lr)
                .minLr(minLr)
                .warmupSteps(warmup)
                .weightDecay(weightDecay)
                .gradClip(gradClip)
                .dropout(dropout)
                .evalEvery(evalEvery)
                .evalBatches(evalBatches)
                .checkpointEvery(checkpointEvery)
                .validationPercent(validationPercent)
                .seed(seed)
                .build();
        System.err.println("loading WordNet 3.1 glosses and examples");
        WordNetCorpus.Split corpus = WordNetCorpus.load(config.validationPercent());
        Pretrainer.Outcome o = new Pretrainer(config, out, System.err).run(corpus);
        System.err.printf(
                "done: %d steps, train loss %.4f, validation loss %.4f, %,.0f tokens/s; checkpoint in %s%n",
                o.steps(), o.trainLoss(), o.validationLoss(), o.tokensPerSecond(), out);
        return 0;
    }
}
