package io.rlhf4j.serving.loop;

import io.rlhf4j.core.loop.ProcessId;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** The environment a training run's process starts with. */
final class RunEnvironment {

    private RunEnvironment() {}

    /** What a run's process may see of the server's environment: nothing secret but its own store. */
    static final Set<String> INHERITED = Set.of(
            "PATH",
            "HOME",
            "USER",
            "LANG",
            "LC_ALL",
            "LC_CTYPE",
            "TZ",
            "TMPDIR",
            "JAVA_HOME",
            "LD_LIBRARY_PATH",
            "CUDA_VISIBLE_DEVICES",
            "RLHF4J_DEBUG");

    /**
     * The run's environment, built rather than inherited: the server's admin token, API secrets and
     * whatever else its environment holds stay with the server. The child gets the system basics, the
     * store's settings, the thread and kernel settings that make training reproducible
     * (docs/notes.md, Reproducibility), and this server as its supervisor ({@link ProcessId#SUPERVISOR_ENV}).
     */
    static Map<String, String> of(Map<String, String> parent, Map<String, String> storeEnv, int trainingThreads) {
        Map<String, String> env = new TreeMap<>();
        parent.forEach((k, v) -> {
            if (INHERITED.contains(k)) {
                env.put(k, v);
            }
        });
        String threads = Integer.toString(trainingThreads);
        env.put("OMP_NUM_THREADS", threads);
        env.put("MKL_NUM_THREADS", threads);
        env.put("MKL_CBWR", "COMPATIBLE");
        env.put("MKL_DYNAMIC", "FALSE");
        env.put("OMP_DYNAMIC", "FALSE");
        env.putAll(storeEnv);
        // The child stops when this server is gone, so that a server killed with -9 leaves no orphan
        // writing a run its next supervisor (perhaps on another host) resumes.
        env.put(ProcessId.SUPERVISOR_ENV, ProcessId.current().encode());
        return env;
    }
}
