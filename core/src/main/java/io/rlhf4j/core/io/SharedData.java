package io.rlhf4j.core.io;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the public data kept beside the project ({@code ../shared/data}): tests and benchmarks use it
 * when present and skip when not; the product never depends on it.
 */
public final class SharedData {

    public static final String ENV = "RLHF4J_SHARED_DATA";

    private SharedData() {}

    /** {@code $RLHF4J_SHARED_DATA}, else the first {@code shared/data} found walking up from the working directory. */
    public static Optional<Path> locate() {
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            return Files.isDirectory(p) ? Optional.of(p) : Optional.empty();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve("data");
            if (Files.isDirectory(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** A file under the shared data, when both exist. */
    public static Optional<Path> file(String relative) {
        return locate().map(d -> d.resolve(relative)).filter(Files::exists);
    }
}
