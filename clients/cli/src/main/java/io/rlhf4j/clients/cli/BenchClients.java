package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The clients the out-of-process benchmarks run against servers they started: streams that must end
 * in [DONE] and name one version, plain completions whose acknowledged ids are remembered (to check
 * none is lost), and admin calls with the benchmarks' admin token.
 */
final class BenchClients {

    /** What a phase's streaming clients saw. */
    static final class Tally {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final AtomicLong truncated = new AtomicLong();
        final AtomicLong mixed = new AtomicLong();
        final AtomicLong overloaded = new AtomicLong();
        final List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());

        String summary() {
            return String.format(
                    "%d ok, %d failed, %d truncated, %d mixed-version, %d refused 503",
                    ok.get(), failed.get(), truncated.get(), mixed.get(), overloaded.get());
        }

        boolean clean() {
            return failed.get() == 0 && truncated.get() == 0 && mixed.get() == 0;
        }
    }

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private HttpRequest completion(int port, String user, boolean stream) {
        String body =
                "{\"prompt\":\"dog (noun):\",\"max_tokens\":24,\"stream\":" + stream + ",\"user\":\"" + user + "\"}";
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .timeout(Duration.ofSeconds(120))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    /** Streams back to back until {@code stop}; each stream must end in [DONE] and name one version. */
    Void streamUntil(int port, String user, AtomicBoolean stop, Tally t) {
        while (!stop.get()) {
            try {
                HttpResponse<java.util.stream.Stream<String>> r =
                        http.send(completion(port, user, true), HttpResponse.BodyHandlers.ofLines());
                if (r.statusCode() == 503) {
                    r.body().close();
                    t.overloaded.incrementAndGet();
                    continue;
                }
                if (r.statusCode() != 200) {
                    r.body().close();
                    t.failed.incrementAndGet();
                    continue;
                }
                String version = r.headers().firstValue("x-rlhf4j-version").orElse("");
                boolean done = false;
                boolean mixed = false;
                boolean error = false;
                for (String line : (Iterable<String>) r.body()::iterator) {
                    if (line.equals("data: [DONE]")) {
                        done = true;
                    } else if (line.startsWith("data: ")) {
                        JsonNode chunk = Json.MAPPER.readTree(line.substring(6));
                        error |= chunk.has("error");
                        mixed |= chunk.has("model")
                                && !chunk.get("model").asText().equals(version);
                    }
                }
                if (error) {
                    t.failed.incrementAndGet();
                } else if (mixed) {
                    t.mixed.incrementAndGet();
                } else if (!done) {
                    t.truncated.incrementAndGet();
                } else {
                    t.ok.incrementAndGet();
                }
            } catch (IOException e) {
                t.failed.incrementAndGet();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    /** Plain completions until {@code stop} (or the server dies); remembers every acknowledged id. */
    Void completeUntil(int port, String user, AtomicBoolean stop, Tally t) {
        while (!stop.get()) {
            try {
                HttpResponse<String> r = http.send(completion(port, user, false), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    t.acknowledged.add(Json.MAPPER.readTree(r.body()).get("id").asText());
                }
            } catch (IOException e) {
                return null; // killed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    String admin(ServerProcess server, String method, String path, String body) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                        .header("authorization", "Bearer " + ReliabilityBench.ADMIN)
                        .header("content-type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(method + " " + path + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    /**
     * Exports the demo model again to {@code dir} and registers it through {@code server}'s admin API: a
     * second version to promote and roll back (same weights, its own version).
     */
    String registerDemo(ServerProcess server, java.nio.file.Path dir) throws Exception {
        new io.rlhf4j.exporter.Exporter(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new io.rlhf4j.exporter.Exporter.Options(
                        DemoModel.locate(), dir, false, false, 1e-4, 2, 1L << 30, false));
        JsonNode registered = Json.MAPPER.readTree(admin(
                server,
                "POST",
                "/admin/versions",
                "{\"path\":" + Json.MAPPER.writeValueAsString(dir.toString()) + "}"));
        return registered.get("version").asText();
    }

    /** Prints one PASS/FAIL row of a benchmark's table; returns {@code pass}. */
    static boolean row(java.io.PrintStream out, String name, boolean pass, String figures) {
        out.printf("%-12s %-4s %s%n", name, pass ? "PASS" : "FAIL", figures);
        return pass;
    }

    /** What a run of promotions under load saw: the streams' tally, and each promotion's time to serving. */
    record Promotions(Tally streams, List<Double> seconds, int refused) {
        boolean clean() {
            return streams.clean() && refused == 0 && streams.ok.get() > 0;
        }

        double p50() {
            return seconds.isEmpty() ? Double.NaN : seconds.get(seconds.size() / 2);
        }

        double max() {
            return seconds.isEmpty() ? Double.NaN : seconds.get(seconds.size() - 1);
        }
    }

    /**
     * Alternates {@code count} promotions of {@code other} and rollbacks to {@code first}, each through the
     * next of {@code servers} in turn, while {@code streamsEach} clients stream to every server; each is
     * timed until every server's {@code /ready} names the version.
     */
    Promotions promoteAndRollBack(List<ServerProcess> servers, int count, String first, String other, int streamsEach)
            throws Exception {
        Tally t = new Tally();
        AtomicBoolean stop = new AtomicBoolean();
        java.util.concurrent.ExecutorService pool =
                java.util.concurrent.Executors.newFixedThreadPool(servers.size() * streamsEach);
        List<java.util.concurrent.Future<?>> running = new ArrayList<>();
        for (ServerProcess s : servers) {
            for (int c = 0; c < streamsEach; c++) {
                String user = "promo-" + s.port() + "-" + c;
                running.add(pool.submit(() -> streamUntil(s.port(), user, stop, t)));
            }
        }
        List<Double> seconds = new ArrayList<>();
        int refused = 0;
        for (int i = 0; i < count; i++) {
            boolean promote = i % 2 == 0;
            String expect = promote ? other : first;
            long t0 = System.nanoTime();
            try {
                admin(
                        servers.get(i % servers.size()),
                        "POST",
                        promote ? "/admin/models/" + other + "/promote?force=true" : "/admin/rollback",
                        "{}");
                for (ServerProcess s : servers) {
                    while (!expect.equals(s.version())) {
                        Thread.sleep(5);
                    }
                }
                seconds.add((System.nanoTime() - t0) / 1e9);
            } catch (IOException e) {
                refused++;
            }
            Thread.sleep(200);
        }
        stop.set(true);
        for (java.util.concurrent.Future<?> f : running) {
            f.get();
        }
        pool.shutdown();
        Collections.sort(seconds);
        return new Promotions(t, seconds, refused);
    }
}
