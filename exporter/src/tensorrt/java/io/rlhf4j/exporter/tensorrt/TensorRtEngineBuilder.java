package io.rlhf4j.exporter.tensorrt;

import static org.bytedeco.tensorrt.global.nvinfer.createInferBuilder;
import static org.bytedeco.tensorrt.global.nvonnxparser.createParser;

import io.rlhf4j.core.config.ModelConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.ILogger;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.bytedeco.tensorrt.nvonnxparser.IParser;

/**
 * TensorRT through the JavaCPP presets: parses the exported ONNX policy, builds an FP16 engine with
 * one optimisation profile spanning prefill (long inputs, empty past) and decode (one token, long
 * past), and writes the serialized plan. Needs an NVIDIA GPU with CUDA and TensorRT installed.
 */
public final class TensorRtEngineBuilder implements EngineBuilder {

    /** TensorRT's messages at warning and above, to the export log. */
    private static final class Logger extends ILogger {
        private final PrintStream out;

        Logger(PrintStream out) {
            this.out = out;
        }

        @Override
        public void log(Severity severity, String message) {
            if (severity.value <= Severity.kWARNING.value) {
                out.println("tensorrt " + severity + ": " + message);
            }
        }
    }

    @Override
    public String describe() {
        return "tensorrt " + nvinfer.NV_TENSORRT_MAJOR + "." + nvinfer.NV_TENSORRT_MINOR + " fp16";
    }

    @Override
    public void build(Path onnx, Path engine, ModelConfig config, Profile profile, PrintStream log) throws IOException {
        requireGpu();
        Logger logger = new Logger(log);
        IBuilder builder = createInferBuilder(logger);
        INetworkDefinition network = builder.createNetworkV2(0);
        IParser parser = createParser(network, logger);
        if (!parser.parseFromFile(onnx.toString(), ILogger.Severity.kWARNING.value)) {
            StringBuilder why = new StringBuilder();
            for (int i = 0; i < parser.getNbErrors(); i++) {
                why.append(i == 0 ? "" : "; ").append(parser.getError(i).desc());
            }
            throw new IOException("TensorRT could not parse " + onnx.getFileName() + ": " + why);
        }
        IBuilderConfig cfg = builder.createBuilderConfig();
        if (builder.platformHasFastFp16()) {
            cfg.setFlag(nvinfer.BuilderFlag.kFP16);
        }
        IOptimizationProfile p = builder.createOptimizationProfile();
        long kv = config.numKvHeads();
        long hd = config.headDim();
        for (int i = 0; i < network.getNbInputs(); i++) {
            ITensor input = network.getInput(i);
            String name = input.getName();
            if (name.equals(io.rlhf4j.exporter.onnx.DecoderGraph.LOGITS_FROM)) {
                continue; // static [1]: no dimensions to range over (unverified on a GPU: none was at hand)
            }
            if (name.startsWith("past_key_values.")) {
                set(
                        p,
                        name,
                        dims(1, kv, 0, hd),
                        dims(profile.optBatch(), kv, profile.optSequence() - 1, hd),
                        dims(profile.maxBatch(), kv, profile.maxSequence() - 1, hd));
            } else if (name.equals("attention_mask")) {
                set(
                        p,
                        name,
                        dims(1, 1),
                        dims(profile.optBatch(), profile.optSequence()),
                        dims(profile.maxBatch(), profile.maxSequence()));
            } else {
                set(p, name, dims(1, 1), dims(profile.optBatch(), 1), dims(profile.maxBatch(), profile.maxSequence()));
            }
        }
        cfg.addOptimizationProfile(p);
        log.printf(
                "building TensorRT engine (%s, batch <= %d, sequence <= %d)%n",
                describe(), profile.maxBatch(), profile.maxSequence());
        IHostMemory plan = builder.buildSerializedNetwork(network, cfg);
        if (plan == null || plan.isNull()) {
            throw new IOException("TensorRT failed to build an engine for " + onnx.getFileName()
                    + " (see the tensorrt messages above)");
        }
        ByteBuffer bytes = plan.data().capacity(plan.size()).asByteBuffer();
        try (OutputStream out = Files.newOutputStream(engine)) {
            Channels.newChannel(out).write(bytes);
        }
    }

    @Override
    public void requireDevice() {
        requireGpu();
    }

    private static void requireGpu() {
        int count;
        try {
            Loader.load(cudart.class);
            IntPointer n = new IntPointer(1);
            int err = cudart.cudaGetDeviceCount(n);
            count = err == 0 ? n.get() : 0;
            if (err != 0) {
                throw new IllegalStateException("no NVIDIA GPU found (cudaGetDeviceCount: "
                        + cudart.cudaGetErrorString(err).getString() + ")");
            }
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new IllegalStateException(
                    "no NVIDIA GPU found (the CUDA runtime could not be loaded: " + e.getMessage() + ")");
        }
        if (count == 0) {
            throw new IllegalStateException("no NVIDIA GPU found (cudaGetDeviceCount returned 0)");
        }
    }

    private static void set(IOptimizationProfile p, String name, Dims64 min, Dims64 opt, Dims64 max) {
        p.setDimensions(name, nvinfer.OptProfileSelector.kMIN, min);
        p.setDimensions(name, nvinfer.OptProfileSelector.kOPT, opt);
        p.setDimensions(name, nvinfer.OptProfileSelector.kMAX, max);
    }

    private static Dims64 dims(long... d) {
        Dims64 out = new Dims64();
        out.nbDims(d.length);
        for (int i = 0; i < d.length; i++) {
            out.d(i, d[i]);
        }
        return out;
    }
}
