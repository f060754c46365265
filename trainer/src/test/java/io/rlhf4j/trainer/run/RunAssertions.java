package io.rlhf4j.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the training stages' resume tests assert about two run directories. */
public final class RunAssertions {

    private static final ObjectMapper JSON = new ObjectMapper();

    private RunAssertions() {}

    /**
     * The resumed run went on from where it stopped and finished like the straight one: the same steps,
     * each once, and the same weights bit for bit.
     */
    public static void assertResumedLike(Path straight, Path resumed) throws IOException {
        assertThat(steps(resumed)).isEqualTo(steps(straight));
        var a = Checkpoint.readWeights(straight);
        var b = Checkpoint.readWeights(resumed);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        a.forEach((name, t) -> assertThat(b.get(name).data()).as(name).containsExactly(t.data()));
        assertThat(JSON.readTree(resumed.resolve(RunDirectory.STATE).toFile())
                        .get("step")
                        .asInt())
                .isEqualTo(JSON.readTree(straight.resolve(RunDirectory.STATE).toFile())
                        .get("step")
                        .asInt());
    }

    private static List<Integer> steps(Path run) throws IOException {
        return Files.readAllLines(run.resolve(RunDirectory.METRICS)).stream()
                .filter(l -> !l.isBlank())
                .map(l -> {
                    try {
                        return JSON.readTree(l).get("step").asInt();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                })
                .toList();
    }
}
