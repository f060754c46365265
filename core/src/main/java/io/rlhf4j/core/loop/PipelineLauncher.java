package io.rlhf4j.core.loop;

import java.nio.file.Path;
import java.util.List;

/**
 * How a server starts a training run's pipeline as a process of its own. Serving never links the
 * trainer (its engine, its memory, its crashes stay out of the serving JVM): whoever assembles the
 * server supplies this, and the process it starts runs the {@link PipelineRequest} in
 * {@code requestFile}, reporting {@link PipelineProgress}.
 */
@FunctionalInterface
public interface PipelineLauncher {

    /** The command line that runs the request in {@code requestFile}. */
    List<String> command(Path requestFile);
}
