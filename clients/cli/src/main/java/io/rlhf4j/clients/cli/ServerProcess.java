package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.StoreSettings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code rlhf4j serve} in a process of its own (this JVM's java and class path), in open mode on
 * loopback (with no training unless asked), for what must be measured from outside: it can be killed
 * with -9.
 */
final class ServerProcess implements AutoCloseable {

    private final Process process;
    private final int port;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ServerProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** Starts a server on {@code dataDir} and waits until it is ready (its output goes to {@code log}). */
    static ServerProcess start(Path dataDir, int port, Path log) throws IOException, InterruptedException {
        return start(dataDir, port, log, List.of("--no-training"), Map.of());
    }

    /** As {@link #start(Path, int, Path)}, with the training loop on, as {@code rlhf4j serve} runs by default. */
    static ServerProcess withTraining(Path dataDir, int port, Path log) throws IOException, InterruptedException {
        return start(dataDir, port, log, List.of(), Map.of());
    }

    /**
     * Starts one replica of a cluster: the store at {@code db}, the versions in {@code modelStore}, named
     * {@code id}, with or without its training loop; waits until it serves a version.
     */
    static ServerProcess replica(
            Path dataDir, int port, Path log, StoreSettings db, Path modelStore, String id, boolean training)
            throws IOException, InterruptedException {
        Map<String, String> env = new java.util.HashMap<>(db.environment());
        env.put("RLHF4J_REPLICA_ID", id);
        List<String> args = new java.util.ArrayList<>(List.of("--model-store", modelStore.toString()));
        if (!training) {
            args.add("--no-training");
        }
        return start(dataDir, port, log, args, env);
    }

    private static ServerProcess start(Path dataDir, int port, Path log, List<String> more, Map<String, String> env)
            throws IOException, InterruptedException {
        List<String> args = new java.util.ArrayList<>(
                List.of("serve", "--data-dir", dataDir.toString(), "--port", Integer.toString(port), "--open"));
        args.addAll(more);
        List<String> cmd = SelfLauncher.rlhf4j(true, args.toArray(String[]::new));
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        pb.environment().put("RLHF4J_ADMIN_TOKEN", ReliabilityBench.ADMIN);
        ServerProcess s = new ServerProcess(pb.start(), port);
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (s.version() == null) {
            if (!s.process.isAlive() || System.nanoTime() > deadline) {
                s.close();
                throw new IOException("the server did not become ready; see " + log);
            }
            Thread.sleep(200);
        }
        return s;
    }

    int port() {
        return port;
    }

    /** The version {@code /ready} reports, or null while it is not ready. */
    String version() throws InterruptedException {
        try {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready"))
                            .timeout(Duration.ofSeconds(5))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                return null;
            }
            JsonNode ready = Json.MAPPER.readTree(r.body());
            return ready.path("version").asText(null);
        } catch (IOException e) {
            return null;
        }
    }

    boolean healthy() throws InterruptedException {
        try {
            return http.send(
                                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
                                            .timeout(Duration.ofSeconds(5))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString())
                            .statusCode()
                    == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** Resident memory in KiB ({@code VmRSS} of {@code /proc}); 0 where there is no {@code /proc}. */
    long rssKiB() {
        return io.rlhf4j.core.io.ProcMemory.residentBytes(process.pid()) / 1024;
    }

    /** SIGKILL: no shutdown hook runs, nothing is flushed. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
