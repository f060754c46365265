package io.rlhf4j.clients.cli;

import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.exporter.onnx.OnnxFiles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = {
            "Export a checkpoint to ONNX (policy with KV cache; reward model with --reward), optimise it "
                    + "with ONNX Runtime, and check it against the trainer's logits.",
            "Writes the checkpoint, policy.onnx, policy.opt.onnx (and reward*.onnx) and manifest.json into --out; "
                    + "a failed parity check writes nothing."
        })
final class ExportCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "checkpoint directory")
    Path model;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "export directory (replaced atomically)")
    Path out;

    @Option(names = "--reward", description = "also export reward.onnx (needs a reward-model checkpoint)")
    boolean reward;

    @Option(names = "--no-optimize", description = "skip the ONNX Runtime-optimised variant")
    boolean noOptimize;

    @Option(
            names = "--tolerance",
            defaultValue = "1e-4",
            description = "largest logit difference accepted (default ${DEFAULT-VALUE})")
    double tolerance;

    @Option(
            names = "--decode-steps",
            defaultValue = "20",
            description = "KV-cache steps compared after the prefill (default ${DEFAULT-VALUE})")
    int decodeSteps;

    @Option(
            names = "--tensorrt",
            description = "also build an FP16 TensorRT engine, policy.fp16.engine (GPU hosts; "
                    + "build with ./mvnw -Ptensorrt install)")
    boolean tensorrt;

    @Override
    public Integer call() throws Exception {
        new Exporter(System.err)
                .export(new Exporter.Options(
                        model,
                        out,
                        reward,
                        !noOptimize,
                        tolerance,
                        decodeSteps,
                        OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD,
                        tensorrt));
        return 0;
    }
}
