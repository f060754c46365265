package io.rlhf4j.trainer.run;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.Locale;

/**
 * The device the trainer's tensors live on: the CPU unless a training command's {@code --device} says
 * otherwise. Process-wide, as DJL's engine is, and set once by the command line before a run starts;
 * every stage, evaluation and judge makes its tensors through {@link #newManager} so that no model is
 * left on another device (DJL's own default would put them on the first GPU whenever one is visible).
 */
public final class TrainingDevice {

    private static volatile Device device = Device.cpu();

    private TrainingDevice() {}

    /**
     * {@code cpu}, {@code cuda} (the first GPU) or {@code cuda:N}; refused with a one-line reason when
     * this build's engine sees no such GPU.
     */
    public static Device parse(String spec) {
        String s = spec.strip().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        if (!s.matches("cuda(:\\d{1,3})?")) {
            throw new IllegalArgumentException("--device takes cpu, cuda or cuda:N, not '" + spec + "'");
        }
        int index = s.contains(":") ? Integer.parseInt(s.substring(5)) : 0;
        int gpus = Engine.getEngine("PyTorch").getGpuCount();
        if (index >= gpus) {
            throw new IllegalArgumentException("--device " + spec + ": the PyTorch engine sees " + gpus
                    + " CUDA device(s); the default build is CPU-only: build with ./mvnw -Pcuda (CUDA 12.4) on a "
                    + "machine with an NVIDIA driver");
        }
        return Device.gpu(index);
    }

    /** Trains on {@code spec} ({@link #parse}) from now on. */
    public static void use(String spec) {
        device = parse(spec);
    }

    public static Device current() {
        return device;
    }

    /** A root manager on the training device, for a stage's (or an evaluation's) models and tensors. */
    public static NDManager newManager() {
        return NDManager.newBaseManager(device, "PyTorch");
    }
}
