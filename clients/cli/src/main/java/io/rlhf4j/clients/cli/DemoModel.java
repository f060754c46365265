package io.rlhf4j.clients.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the bundled demo base model: {@code $RLHF4J_HOME/demo/base-model} or {@code ./demo/base-model}. */
final class DemoModel {

    private DemoModel() {}

    static Path locate() {
        String home = System.getProperty("rlhf4j.home", System.getenv("RLHF4J_HOME"));
        Path base = home == null ? Path.of("") : Path.of(home);
        Path dir = base.resolve("demo").resolve("base-model");
        if (!Files.exists(dir.resolve("config.json"))) {
            throw new IllegalStateException("the bundled demo model is not at " + dir.toAbsolutePath()
                    + " (set RLHF4J_HOME to the rlhf4j checkout, or pass --model DIR)");
        }
        return dir;
    }
}
