package io.rlhf4j.clients.cli;

import io.rlhf4j.trainer.lora.LoraMerge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        description = {
            "Merge a LoRA adapter (PEFT's layout: adapter_config.json, adapter_model.safetensors; ours or PEFT's) "
                    + "into its base: W + (alpha / r) B A, written as an ordinary checkpoint.",
            "An adapter recorded for other base weights or another family, or whose tensors do not fit the base, "
                    + "is refused and nothing is written."
        })
final class MergeCommand implements Callable<Integer> {

    @Option(names = "--base", required = true, paramLabel = "DIR")
    Path base;

    @Option(names = "--adapter", required = true, paramLabel = "DIR")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "replaced atomically")
    Path out;

    @Override
    public Integer call() throws Exception {
        LoraMerge.merge(base, adapter, out);
        System.err.printf("merged %s into %s: %s%n", adapter, base, out);
        return 0;
    }
}
