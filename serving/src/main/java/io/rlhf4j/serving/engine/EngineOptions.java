package io.rlhf4j.serving.engine;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.rlhf4j.core.checkpoint.WeightFormat;
import java.util.Set;

/**
 * Which execution provider runs the graphs, with how many threads, and which of a version's policy
 * variants it loads ({@code weights}: fp32, or the int8/int4 graphs an export made with --quantize),
 * and how many MB of prompt-prefix KV blocks it keeps for reuse ({@link PrefixCache}; 0: none). {@code onnxruntime-cpu} works
 * everywhere; {@code onnxruntime-cuda} and {@code onnxruntime-tensorrt} (ONNX Runtime's TensorRT
 * provider, which builds and caches TensorRT engines from the same graph, with CUDA as fallback for
 * what TensorRT cannot run) need a build with the {@code cuda} Maven profile (ONNX Runtime's GPU jar)
 * and an NVIDIA GPU with CUDA (and TensorRT) libraries.
 */
public record EngineOptions(String kind, int threads, int device, WeightFormat weights, int prefixCacheMb) {

    /** The prefix cache's default budget; 0 turns it off. */
    public static final int DEFAULT_PREFIX_CACHE_MB = 256;

    public static final String CPU = "onnxruntime-cpu";
    public static final String CUDA = "onnxruntime-cuda";
    public static final String TENSORRT = "onnxruntime-tensorrt";
    public static final Set<String> KINDS = Set.of(CPU, CUDA, TENSORRT);

    public EngineOptions {
        if (!KINDS.contains(kind)) {
            throw new IllegalArgumentException("engine must be one of " + KINDS + ", got '" + kind + "'");
        }
        if (threads < 0 || device < 0) {
            throw new IllegalArgumentException("engine threads and device must be >= 0");
        }
        weights = weights == null ? WeightFormat.FP32 : weights;
        if (prefixCacheMb < 0) {
            throw new IllegalArgumentException("prefix cache budget must be >= 0 MB, got " + prefixCacheMb);
        }
    }

    public EngineOptions(String kind, int threads, int device) {
        this(kind, threads, device, WeightFormat.FP32, DEFAULT_PREFIX_CACHE_MB);
    }

    public static EngineOptions cpu(int threads) {
        return new EngineOptions(CPU, threads, 0);
    }

    public EngineOptions withWeights(WeightFormat w) {
        return new EngineOptions(kind, threads, device, w, prefixCacheMb);
    }

    public EngineOptions withPrefixCacheMb(int mb) {
        return new EngineOptions(kind, threads, device, weights, mb);
    }

    /** Session options for a graph; fails in one line when the provider cannot be had. */
    OrtSession.SessionOptions sessionOptions() throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        if (threads > 0) {
            options.setIntraOpNumThreads(threads);
        }
        if (!kind.equals(CPU)) {
            try {
                if (kind.equals(TENSORRT)) {
                    options.addTensorrt(device);
                }
                options.addCUDA(device);
            } catch (OrtException | UnsupportedOperationException e) {
                options.close();
                throw new OrtException("engine " + kind + " is unavailable (build with ./mvnw -Pcuda install on a "
                        + "host with an NVIDIA GPU): " + e.getMessage());
            }
        }
        return options;
    }
}
