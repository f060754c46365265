package io.rlhf4j.clients.cli;

import io.rlhf4j.core.loop.PipelineLauncher;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a training run's pipeline as {@code rlhf4j train pipeline --request FILE} in a JVM of its own,
 * with this JVM's java and class path: the server's own build trains, whatever started it.
 */
final class SelfLauncher implements PipelineLauncher {

    @Override
    public List<String> command(Path requestFile) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Dai.djl.offline=true"));
        String home = System.getProperty("rlhf4j.home");
        if (home != null) {
            cmd.add("-Drlhf4j.home=" + home);
        }
        cmd.addAll(List.of(
                "-cp",
                System.getProperty("java.class.path"),
                Rlhf4j.class.getName(),
                "train",
                "pipeline",
                "--request",
                requestFile.toString()));
        return cmd;
    }
}
