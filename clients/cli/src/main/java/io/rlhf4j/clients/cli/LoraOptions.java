package io.rlhf4j.clients.cli;

import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Precision;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** A training command's LoRA flags; {@code --lora-rank 0} (the default) is full fine-tuning. */
final class LoraOptions {

    @Option(
            names = "--lora-rank",
            defaultValue = "0",
            paramLabel = "R",
            description = "train a rank-R LoRA adapter on the frozen base; 0 trains every weight (default)")
    int rank;

    @Option(
            names = "--lora-alpha",
            defaultValue = "16",
            description = "the update is scaled by alpha / R (default ${DEFAULT-VALUE})")
    double alpha;

    @Option(
            names = "--lora-dropout",
            defaultValue = "0",
            description = "dropout on the adapter's input (default ${DEFAULT-VALUE})")
    double dropout;

    @Option(
            names = "--lora-targets",
            split = ",",
            defaultValue = "q,k,v,o,gate,up,down",
            description = "projections to adapt (default ${DEFAULT-VALUE})")
    List<String> targets = new ArrayList<>();

    @Option(
            names = "--base-precision",
            defaultValue = "fp32",
            paramLabel = "fp32|fp16",
            description = "hold the frozen base's matrices in fp16 (half their memory at rest; arithmetic stays "
                    + "fp32, and a backward keeps widened copies, so training peaks do not drop: docs/notes.md) "
                    + "or fp32 (default ${DEFAULT-VALUE})")
    String basePrecision;

    /** The adapter's settings, or null for full fine-tuning. */
    LoraConfig config() {
        if (rank < 0) {
            throw new IllegalArgumentException("--lora-rank must be 0 (full fine-tuning) or positive, got " + rank);
        }
        Precision precision = Precision.parse(basePrecision);
        if (rank == 0 && precision != Precision.FP32) {
            throw new IllegalArgumentException("--base-precision " + basePrecision
                    + " holds a frozen base: it needs --lora-rank (full fine-tuning trains every weight in fp32)");
        }
        return rank == 0 ? null : new LoraConfig(rank, alpha, dropout, targets, precision);
    }
}
