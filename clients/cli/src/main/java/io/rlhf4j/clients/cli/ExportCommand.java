package io.rlhf4j.clients.cli;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.exporter.gguf.GgufExporter;
import io.rlhf4j.exporter.hf.HfCheckpointExporter;
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
                    + "a failed parity check writes nothing.",
            "With --quantize int8,int4, also writes policy.int8.onnx / policy.int4.onnx (MatMulNBits blocks), each "
                    + "passing a quality gate against the fp32 graph (perplexity, greedy agreement; in the manifest); "
                    + "serve picks one with --weights.",
            "With --format gguf, writes model.gguf for llama.cpp and an Ollama Modelfile into --out instead; "
                    + "with --format hf, an HF transformers checkpoint (--dtype, sharded above --max-shard-size)."
        })
final class ExportCommand implements Callable<Integer> {

    enum Format {
        onnx,
        gguf,
        hf
    }

    enum Dtype {
        fp32,
        bf16
    }

    @Option(
            names = "--format",
            defaultValue = "onnx",
            description =
                    "onnx (serving's engines), gguf (llama.cpp, Ollama) or hf (transformers); default ${DEFAULT-VALUE}")
    Format format;

    @Option(names = "--type", description = "GGUF weights: f32, f16, q8_0 or q4_0 (default q8_0); --format gguf only")
    GgufExporter.Type type;

    @Option(names = "--dtype", description = "HF weights: fp32 or bf16 (default fp32); --format hf only")
    Dtype dtype;

    @Option(
            names = "--max-shard-size",
            paramLabel = "SIZE",
            description = "HF shards of at most SIZE (500MB, 2GB, 2GiB; default 2GiB); --format hf only")
    String maxShardSize;

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

    @Option(
            names = "--quantize",
            split = ",",
            paramLabel = "FORMAT",
            description = "also write quantized policy variants: int8, int4 or both (int8,int4)")
    java.util.List<String> quantize;

    @Option(
            names = "--block",
            defaultValue = "" + Exporter.Quantize.DEFAULT_BLOCK,
            description = "inputs per quantization block, a power of two >= 16 (default ${DEFAULT-VALUE})")
    int block;

    @Option(
            names = "--accuracy-level",
            defaultValue = "" + Exporter.Quantize.DEFAULT_ACCURACY_LEVEL,
            description =
                    "MatMulNBits accuracy_level: 0 fp32 arithmetic .. 4 int8 activations (default ${DEFAULT-VALUE})")
    int accuracyLevel;

    @Option(
            names = "--keep-unembedding-fp32",
            description = "leave the output projection (logits) in fp32 in the quantized variants")
    boolean keepUnembedding;

    @Option(
            names = "--max-perplexity-increase",
            defaultValue = "" + Exporter.Quantize.DEFAULT_MAX_PERPLEXITY_INCREASE,
            description = "quality gate: largest perplexity rise over fp32 a variant may have, as a fraction "
                    + "(default ${DEFAULT-VALUE})")
    double maxPerplexityIncrease;

    @Option(
            names = "--quality-text",
            paramLabel = "FILE",
            description = "held-out text for the gate's perplexity (default: the fp32 graph's own samples)")
    Path qualityText;

    private Exporter.Quantize quantization() {
        if (quantize == null) {
            return Exporter.Quantize.NONE;
        }
        return new Exporter.Quantize(
                quantize.stream().map(WeightFormat::parse).distinct().toList(),
                block,
                accuracyLevel,
                !keepUnembedding,
                maxPerplexityIncrease,
                qualityText);
    }

    @Override
    public Integer call() throws Exception {
        if (format != Format.onnx && (quantize != null || qualityText != null)) {
            throw new IllegalArgumentException(
                    "--quantize and --quality-text are for --format onnx (for GGUF use --type)");
        }
        if (format != Format.hf && (dtype != null || maxShardSize != null)) {
            throw new IllegalArgumentException("--dtype and --max-shard-size are for --format hf");
        }
        if (format == Format.hf) {
            if (reward || tensorrt || type != null) {
                throw new IllegalArgumentException("--reward, --tensorrt and --type are not HF checkpoint options");
            }
            new HfCheckpointExporter(System.err)
                    .export(
                            model,
                            out,
                            new Checkpoint.Storage(
                                    dtype == Dtype.bf16 ? SafeTensors.Dtype.BF16 : SafeTensors.Dtype.F32,
                                    maxShardSize == null
                                            ? Checkpoint.DEFAULT_MAX_SHARD_BYTES
                                            : HfCheckpointExporter.parseSize(maxShardSize)));
            return 0;
        }
        if (format == Format.gguf) {
            if (reward || tensorrt) {
                throw new IllegalArgumentException(
                        "--reward and --tensorrt are ONNX options; GGUF holds the policy only");
            }
            new GgufExporter(System.err).export(model, out, type == null ? GgufExporter.Type.q8_0 : type);
            return 0;
        }
        if (type != null) {
            throw new IllegalArgumentException("--type is for --format gguf (ONNX's quantized variants: --quantize)");
        }
        new Exporter(System.err)
                .export(new Exporter.Options(
                        model,
                        out,
                        reward,
                        !noOptimize,
                        tolerance,
                        decodeSteps,
                        OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD,
                        tensorrt,
                        quantization()));
        return 0;
    }
}
