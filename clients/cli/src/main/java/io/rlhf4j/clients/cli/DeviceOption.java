package io.rlhf4j.clients.cli;

import io.rlhf4j.trainer.run.TrainingDevice;
import picocli.CommandLine.Option;

/** A training command's {@code --device}: the CPU by default; a GPU with the {@code -Pcuda} build. */
final class DeviceOption {

    @Option(
            names = "--device",
            defaultValue = "cpu",
            paramLabel = "cpu|cuda[:N]",
            description = "where the trainer's tensors live (default ${DEFAULT-VALUE}); cuda needs the -Pcuda build")
    String device;

    /** Makes the asked device the trainer's, or fails in one line before anything is read. */
    void use() {
        TrainingDevice.use(device);
    }
}
