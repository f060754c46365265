package io.rlhf4j.core.tokenizer;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The project's shared data directory; tests that need a file from it are skipped when it is absent. */
final class SharedData {

    private SharedData() {}

    /** The file under the shared data directory, or a skipped test when it is not there. */
    static Path require(String relative) {
        String env = System.getenv("RLHF4J_SHARED_DATA");
        // Surefire runs with the module as working directory; an IDE may use the project root.
        List<Path> roots = new ArrayList<>();
        if (env != null && !env.isBlank()) {
            roots.add(Path.of(env));
        }
        roots.add(Path.of("../shared/data"));
        roots.add(Path.of("../../shared/data"));
        for (Path root : roots) {
            Path file = root.resolve(relative);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        assumeTrue(false, "shared data file " + relative + " not found (set RLHF4J_SHARED_DATA)");
        throw new AssertionError("unreachable");
    }

    /** Varied real text: the non-empty lines of the two eval CSVs, up to {@code limit}. */
    static List<String> evalLines(int limit) {
        Path truthful = require("eval/TruthfulQA.csv");
        List<String> lines = new ArrayList<>();
        try (Stream<String> s = Files.lines(truthful, StandardCharsets.UTF_8)) {
            s.filter(l -> !l.isBlank()).limit(limit).forEach(lines::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lines;
    }
}
