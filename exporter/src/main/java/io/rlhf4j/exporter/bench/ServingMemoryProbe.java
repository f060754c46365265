package io.rlhf4j.exporter.bench;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.exporter.ort.OrtPolicy;
import java.nio.file.Path;

/**
 * Run by {@link ExportBenchmark} in its own JVM: loads an exported graph as serving does, runs one
 * prefill, and prints this process's resident bytes (VmRSS).
 */
public final class ServingMemoryProbe {

    private ServingMemoryProbe() {}

    public static void main(String[] args) throws Exception {
        Path graph = Path.of(args[0]);
        ModelConfig config = Checkpoint.readConfig(graph.getParent());
        try (OrtPolicy ort = new OrtPolicy(graph, config, ai.onnxruntime.OrtSession.SessionOptions.OptLevel.NO_OPT, 0);
                OrtPolicy.Cache cache = ort.newCache(1)) {
            ort.forward(new long[] {3, 4, 5, 6}, new long[] {0, 1, 2, 3}, new long[] {1, 1, 1, 1}, 1, 4, cache);
            long rss = io.rlhf4j.core.io.ProcMemory.residentBytes(
                    ProcessHandle.current().pid());
            if (rss == 0) {
                throw new IllegalStateException("no VmRSS in /proc/self/status");
            }
            System.out.println(rss);
        }
    }
}
