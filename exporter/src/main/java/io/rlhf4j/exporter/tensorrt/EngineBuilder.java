package io.rlhf4j.exporter.tensorrt;

import io.rlhf4j.core.config.ModelConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Compiles an exported ONNX policy into a GPU engine. The TensorRT implementation is built only with
 * the {@code tensorrt} Maven profile (so CPU builds never pull CUDA) and found through
 * {@link ServiceLoader}.
 */
public interface EngineBuilder {

    /** Shapes the engine is optimised for; the engine accepts anything between 1 and the maxima. */
    record Profile(int optBatch, int maxBatch, int optSequence, int maxSequence) {
        public Profile {
            if (optBatch < 1 || optBatch > maxBatch || optSequence < 1 || optSequence > maxSequence) {
                throw new IllegalArgumentException("need 1 <= opt <= max for batch and sequence, got " + this);
            }
        }

        public static Profile forModel(ModelConfig config) {
            int max = config.maxPositions();
            return new Profile(8, 32, Math.min(128, max), max);
        }
    }

    /** A short name for manifests, e.g. "tensorrt 10.12 fp16". */
    String describe();

    /** Fails with a one-line message unless a GPU that can build engines is present. */
    void requireDevice();

    /** Builds {@code engine} from {@code onnx}; fails with a one-line message when no GPU can do it. */
    void build(Path onnx, Path engine, ModelConfig config, Profile profile, PrintStream log) throws IOException;

    static Optional<EngineBuilder> tensorRt() {
        return ServiceLoader.load(EngineBuilder.class).findFirst();
    }
}
