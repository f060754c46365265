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
        // The training child sizes its own heap: the server's memory flags are not its business.
        return rlhf4j(false, "train", "pipeline", "--request", requestFile.toString());
    }

    /**
     * {@code rlhf4j ARGS} as a command line: this JVM's java, home and class path, and with
     * {@code memoryFlags} its {@code -Xm*} and {@code -XX:} flags (so {@code RLHF4J_JAVA_OPTS} reaches
     * the child too).
     */
    static List<String> rlhf4j(boolean memoryFlags, String... args) {
        String javaCommand = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(javaCommand, "-Dai.djl.offline=true"));
        if (memoryFlags) {
            java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                    .filter(a -> a.startsWith("-Xm") || a.startsWith("-XX:"))
                    .forEach(cmd::add);
        }
        String home = System.getProperty("rlhf4j.home");
        if (home != null) {
            cmd.add("-Drlhf4j.home=" + home);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Rlhf4j.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }
}
