package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.StoreSettings;
import io.rlhf4j.serving.bench.LoadGenerator;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code rlhf4j bench --suite cluster}: replicas of {@code rlhf4j serve}, each in its own process, on
 * one PostgreSQL (a scratch database the bench creates on the server at {@code --db-url} and drops at
 * the end) and one model directory. Rows: aggregate tokens/s of 1..N replicas under the same streaming
 * load (on a machine with few cores there is nothing to gain: the figure shows the overhead), the time
 * from a promotion or rollback through a rotating replica's admin API until every replica serves it
 * (p50 and max), and a kill -9 of one replica under load (acknowledged prompt logs missing, the others
 * still serving). Exits 1 if the promotion or kill row fails.
 */
final class ClusterBench {

    private static final List<String> PROMPTS = List.of("dog (noun):", "cat (noun):", "run (verb):", "tree (noun):");

    private final PrintStream out;
    private final Path work;
    private final StoreSettings server;
    private final int maxReplicas;
    private final int promotions;
    private final int streams;
    private final BenchClients client = new BenchClients();
    private int failures;

    ClusterBench(PrintStream out, Path work, StoreSettings server, int maxReplicas, int promotions, int streams) {
        this.out = out;
        this.work = work;
        this.server = server;
        this.maxReplicas = maxReplicas;
        this.promotions = promotions;
        this.streams = streams;
    }

    /** Runs every phase; returns how many rows failed. */
    int run() throws Exception {
        String scratch = "rlhf4j_bench_" + System.currentTimeMillis();
        execute(server, "CREATE DATABASE " + scratch);
        StoreSettings db =
                new StoreSettings(work, withDatabase(server.url(), scratch), server.user(), server.password());
        out.printf(
                "== cluster: up to %d replicas of rlhf4j serve (demo model), each its own process, on PostgreSQL "
                        + "(scratch database %s) and one model directory; %d streams%n",
                maxReplicas, scratch, streams);
        List<ServerProcess> replicas = new ArrayList<>();
        try {
            for (int n = 1; n <= maxReplicas; n++) {
                replicas.add(ServerProcess.replica(
                        work.resolve("data-" + n),
                        ReliabilityBench.freePort(),
                        work.resolve("replica-" + n + ".log"),
                        db,
                        work.resolve("models"),
                        "replica-" + n,
                        false));
                throughput(replicas);
            }
            promotions(replicas);
            if (replicas.size() > 1) {
                kill(replicas, db);
            }
        } finally {
            replicas.forEach(ServerProcess::close);
            execute(server, "DROP DATABASE IF EXISTS " + scratch);
        }
        return failures;
    }

    private void row(String name, boolean pass, String figures) {
        failures += BenchClients.row(out, name, pass, figures) ? 0 : 1;
    }

    /** The same load spread over the replicas: aggregate tokens/s, and TTFT as the slowest replica saw it. */
    private void throughput(List<ServerProcess> replicas) throws Exception {
        int n = replicas.size();
        int each = Math.max(1, streams / n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<LoadGenerator.Result>> runs = new ArrayList<>();
        for (ServerProcess r : replicas) {
            runs.add(pool.submit(() -> new LoadGenerator(r.port()).run(each, each * 6, PROMPTS, 32)));
        }
        long tokens = 0;
        int failed = 0;
        double seconds = 0;
        double ttft = 0;
        for (Future<LoadGenerator.Result> f : runs) {
            LoadGenerator.Result res = f.get();
            tokens += res.tokens();
            failed += res.failures();
            seconds = Math.max(seconds, res.seconds());
            ttft = Math.max(ttft, res.ttftP50());
        }
        pool.shutdown();
        out.printf(
                "%-12s %-4s %d replica%s x %d streams: %.1f tokens/s aggregate, TTFT p50 %.0f ms, %d failed%n",
                "replicas " + n, "", n, n == 1 ? "" : "s", each, tokens / seconds, ttft, failed);
    }

    private void promotions(List<ServerProcess> replicas) throws Exception {
        String other = client.registerDemo(replicas.get(0), work.resolve("export-2"));
        BenchClients.Promotions p =
                client.promoteAndRollBack(replicas, promotions, replicas.get(0).version(), other, 1);
        row(
                "promotions",
                p.clean(),
                String.format(
                        "%d promotions and rollbacks through a rotating replica (%d refused), a stream on each: %s; "
                                + "until all %d serve it p50 %.2f s, max %.2f s",
                        promotions, p.refused(), p.streams().summary(), replicas.size(), p.p50(), p.max()));
    }

    /** Kills the last replica with -9 under load on every replica; the others must go on serving. */
    private void kill(List<ServerProcess> replicas, StoreSettings db) throws Exception {
        ServerProcess victim = replicas.get(replicas.size() - 1);
        List<ServerProcess> survivors = replicas.subList(0, replicas.size() - 1);
        BenchClients.Tally killed = new BenchClients.Tally();
        BenchClients.Tally others = new BenchClients.Tally();
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(4 * replicas.size());
        for (ServerProcess r : replicas) {
            for (int c = 0; c < 4; c++) {
                String user = "kill-" + r.port() + "-" + c;
                pool.submit(() -> client.completeUntil(r.port(), user, stop, r == victim ? killed : others));
            }
        }
        Thread.sleep(2_000);
        victim.kill();
        int before = others.acknowledged.size();
        Thread.sleep(2_000);
        int after = others.acknowledged.size();
        stop.set(true);
        pool.shutdown();
        pool.awaitTermination(60, TimeUnit.SECONDS);
        boolean serving = after > before;
        for (ServerProcess r : survivors) {
            serving &= r.healthy();
        }
        List<String> acked = new ArrayList<>(killed.acknowledged);
        acked.addAll(others.acknowledged);
        long missing;
        try (Store store = db.open()) {
            missing = acked.stream()
                    .filter(id -> store.prompts().find(id + "-0").isEmpty())
                    .count();
        }
        row(
                "kill -9",
                missing == 0 && !killed.acknowledged.isEmpty() && serving,
                String.format(
                        "one of %d replicas killed under load: %d prompt logs acknowledged (%d by it), %d missing; the "
                                + "others answered %d more in the 2 s after it, and are %s",
                        replicas.size(),
                        acked.size(),
                        killed.acknowledged.size(),
                        missing,
                        after - before,
                        serving ? "up" : "NOT all up"));
    }

    /** {@code url} naming database {@code name} instead of its own. */
    static String withDatabase(String url, String name) {
        URI u = URI.create(url.substring("jdbc:".length()));
        String query = u.getRawQuery() == null ? "" : "?" + u.getRawQuery();
        return "jdbc:" + u.getScheme() + "://" + u.getRawAuthority() + "/" + name + query;
    }

    private static void execute(StoreSettings at, String sql) throws java.sql.SQLException {
        try (Connection c = DriverManager.getConnection(at.url(), at.user(), at.password());
                Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
