package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.Store;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code rlhf4j bench --suite reliability}: what the server promises under load, measured from
 * outside against a server in its own process (so that it can be killed with -9): a soak of streaming
 * clients (errors, truncated streams, resident memory), a kill -9 under load and a restart (prompt logs
 * acknowledged but missing), promotions and rollbacks under load (failed, truncated or mixed-version
 * responses, time from promotion to serving), and a fuzz of malformed requests (every answer a 2xx or
 * a 4xx with OpenAI's error body, the server up). Each row says PASS or FAIL; the command exits 1 on
 * any FAIL.
 */
final class ReliabilityBench {

    static final String ADMIN = "reliability-admin";

    private final PrintStream out;
    private final Path work;
    private final double minutes;
    private final int clients;
    private final int promotions;
    private final int fuzz;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final BenchClients client = new BenchClients();
    private int failures;

    ReliabilityBench(PrintStream out, Path work, double minutes, int clients, int promotions, int fuzz) {
        this.out = out;
        this.work = work;
        this.minutes = minutes;
        this.clients = clients;
        this.promotions = promotions;
        this.fuzz = fuzz;
    }

    /** Runs every phase; returns how many rows failed. */
    int run() throws Exception {
        Path data = work.resolve("data");
        out.printf(
                "== reliability: rlhf4j serve (demo model) in its own process; %d streaming clients for %.2f min, "
                        + "kill -9 under load, %d promotions/rollbacks, %d fuzzed requests%n",
                clients, minutes, promotions, fuzz);
        ServerProcess server = ServerProcess.start(data, freePort(), work.resolve("server.log"));
        try {
            soak(server);
            server = crash(server, data);
            promotions(server);
            fuzz(server);
        } finally {
            server.close();
        }
        return failures;
    }

    private void row(String name, boolean pass, String figures) {
        failures += BenchClients.row(out, name, pass, figures) ? 0 : 1;
    }

    // ------------------------------------------------------------------ phases

    private void soak(ServerProcess server) throws Exception {
        long start = server.rssKiB();
        Duration total = Duration.ofMillis((long) (minutes * 60_000));
        Duration warmUp = total.dividedBy(3); // the heap grows to its working size first
        BenchClients.Tally t = new BenchClients.Tally();
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int id = c;
            running.add(pool.submit(() -> client.streamUntil(server.port(), "soak-" + id, stop, t)));
        }
        Thread.sleep(warmUp.toMillis());
        long warm = server.rssKiB();
        Thread.sleep(total.minus(warmUp).toMillis());
        stop.set(true);
        for (Future<?> f : running) {
            f.get();
        }
        pool.shutdown();
        long end = server.rssKiB();
        // Flat after warm-up: the end within a quarter (and 64 MiB) of what warm-up reached.
        boolean flat = end <= warm * 1.25 + 64 * 1024;
        row(
                "soak",
                t.clean() && t.ok.get() > 0 && flat,
                String.format(
                        "%d streams: %s; resident MiB at start %d, after warm-up %d, at end %d",
                        t.ok.get() + t.failed.get() + t.truncated.get(),
                        t.summary(),
                        start / 1024,
                        warm / 1024,
                        end / 1024));
    }

    /** Kills the server with -9 under load, counts acknowledged logs that did not survive, restarts it. */
    private ServerProcess crash(ServerProcess server, Path data) throws Exception {
        BenchClients.Tally t = new BenchClients.Tally();
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        for (int c = 0; c < 16; c++) {
            int id = c;
            pool.submit(() -> client.completeUntil(server.port(), "crash-" + id, stop, t));
        }
        Thread.sleep(Math.max(2_000, (long) (minutes * 6_000)));
        server.kill();
        stop.set(true);
        pool.shutdown();
        pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
        List<String> acked = List.copyOf(t.acknowledged);
        long missing;
        try (Store store = Store.openSqlite(data)) {
            missing = acked.stream()
                    .filter(id -> store.prompts().find(id + "-0").isEmpty())
                    .count();
        }
        long restarting = System.nanoTime();
        ServerProcess again = ServerProcess.start(data, server.port(), work.resolve("server-2.log"));
        double ready = (System.nanoTime() - restarting) / 1e9;
        row(
                "kill -9",
                missing == 0 && !acked.isEmpty(),
                String.format(
                        "%d prompt logs acknowledged before the kill, %d missing after it; restart to ready %.1f s",
                        acked.size(), missing, ready));
        return again;
    }

    private void promotions(ServerProcess server) throws Exception {
        String other = client.registerDemo(server, work.resolve("export-2"));
        BenchClients.Promotions p = client.promoteAndRollBack(List.of(server), promotions, server.version(), other, 8);
        row(
                "promotions",
                p.clean(),
                String.format(
                        "%d promotions and rollbacks (%d refused) under 8 streams: %s; promotion to serving p50 %.2f s, "
                                + "max %.2f s",
                        promotions, p.refused(), p.streams().summary(), p.p50(), p.max()));
    }

    private void fuzz(ServerProcess server) throws Exception {
        Fuzzer fuzzer = new Fuzzer(42);
        AtomicLong ok = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicLong bad = new AtomicLong();
        List<String> examples = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<?>> sent = new ArrayList<>();
        for (int i = 0; i < fuzz; i++) {
            HttpRequest request = fuzzer.next(URI.create("http://127.0.0.1:" + server.port()));
            sent.add(pool.submit(() -> {
                try {
                    HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                    if (Fuzzer.wellFormed(r)) {
                        (r.statusCode() < 300 ? ok : refused).incrementAndGet();
                    } else {
                        bad.incrementAndGet();
                        if (examples.size() < 3) {
                            examples.add(request.method() + " " + request.uri().getPath() + " -> " + r.statusCode());
                        }
                    }
                } catch (IOException | InterruptedException e) {
                    bad.incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> f : sent) {
            f.get();
        }
        pool.shutdown();
        boolean up = server.healthy();
        row(
                "fuzz",
                bad.get() == 0 && up,
                String.format(
                        "%d requests: %d answered 2xx, %d answered 4xx with OpenAI's error body, %d otherwise%s; "
                                + "server %s",
                        fuzz,
                        ok.get(),
                        refused.get(),
                        bad.get(),
                        examples.isEmpty() ? "" : " " + examples,
                        up ? "up" : "DOWN"));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
