package io.rlhf4j.clients.cli;

import io.rlhf4j.client.ModelVersion;
import io.rlhf4j.client.Promotion;
import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.client.TrainingRun;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "admin",
        mixinStandardHelpOptions = true,
        description = "Administer a running server over its admin API (the Java client): versions, promotion and "
                + "rollback, training runs, user deletion. Needs the server's admin token.",
        subcommands = {
            AdminCommand.Versions.class,
            AdminCommand.Promote.class,
            AdminCommand.Rollback.class,
            AdminCommand.Train.class,
            AdminCommand.Runs.class,
            AdminCommand.DeleteUser.class
        })
final class AdminCommand {

    /** Where the server is and the admin token. */
    static final class Server {
        @Option(
                names = "--server",
                defaultValue = "${env:RLHF4J_SERVER:-http://127.0.0.1:8080}",
                description = "the server's base URL (default ${DEFAULT-VALUE})")
        String url;

        @Option(
                names = "--admin-token",
                defaultValue = "${env:RLHF4J_ADMIN_TOKEN}",
                description = "the server's admin token (default: $RLHF4J_ADMIN_TOKEN)")
        String token;

        Rlhf4jClient client() {
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException("no admin token: pass --admin-token or set RLHF4J_ADMIN_TOKEN");
            }
            return Rlhf4jClient.builder()
                    .baseUrl(url)
                    .adminToken(token)
                    .timeout(Duration.ofMinutes(5))
                    .build();
        }
    }

    @Command(name = "versions", mixinStandardHelpOptions = true, description = "List model versions.")
    static final class Versions implements Callable<Integer> {
        @Mixin
        Server server;

        @Override
        public Integer call() {
            for (ModelVersion v : server.client().admin().versions()) {
                var gate = v.manifest().path("gate");
                System.out.printf(
                        "%-6s %-7s parent %-6s %-12s %s%s%n",
                        v.version(),
                        v.kind(),
                        v.parent(),
                        v.state(),
                        v.active() ? "active" : "",
                        gate.isMissingNode()
                                ? ""
                                : String.format(
                                        "  gate %s, win rate %.3f",
                                        gate.path("passed").asBoolean() ? "passed" : "failed",
                                        gate.path("win_rate").asDouble()));
            }
            return 0;
        }
    }

    @Command(
            name = "promote",
            mixinStandardHelpOptions = true,
            description = "Make a version active (load, warm, swap). A version whose gate failed needs --force, "
                    + "which the server logs.")
    static final class Promote implements Callable<Integer> {
        @Mixin
        Server server;

        @Parameters(paramLabel = "VERSION")
        String version;

        @Option(names = "--force", description = "promote even though the version failed its evaluation gate")
        boolean force;

        @Override
        public Integer call() {
            Promotion p = server.client().admin().promote(version, force);
            System.out.printf("version %s is active (was %s)%n", p.active(), p.previous());
            return 0;
        }
    }

    @Command(
            name = "rollback",
            mixinStandardHelpOptions = true,
            description = "Make the previously active version active.")
    static final class Rollback implements Callable<Integer> {
        @Mixin
        Server server;

        @Override
        public Integer call() {
            Promotion p = server.client().admin().rollback();
            System.out.printf("version %s is active (was %s)%n", p.active(), p.previous());
            return 0;
        }
    }

    @Command(
            name = "train",
            mixinStandardHelpOptions = true,
            description = "Start a training run on the server (snapshot, SFT, RM, PPO-ptx, gate, export, register) and "
                    + "follow it until it ends; exit 1 if it fails.")
    static final class Train implements Callable<Integer> {
        @Mixin
        Server server;

        @Option(names = "--no-wait", description = "start it and return")
        boolean noWait;

        @Override
        public Integer call() {
            Rlhf4jClient client = server.client();
            TrainingRun run = client.admin().startTrainingRun(Map.of());
            System.out.println("started " + run.id());
            if (noWait) {
                return 0;
            }
            run = client.admin()
                    .awaitTrainingRun(
                            run.id(),
                            Duration.ofHours(6),
                            r -> System.err.printf(
                                    "%s %s %s %.0f%%%n", r.id(), r.state(), r.stage(), 100 * r.progress()));
            System.out.printf(
                    "%s %s: candidate %s, gate %s, promoted %s%s%n",
                    run.id(),
                    run.state(),
                    run.candidate(),
                    run.gate() == null ? "-" : run.gate().path("passed").asBoolean() ? "passed" : "failed",
                    run.promoted(),
                    run.error() == null ? "" : " (" + run.error() + ")");
            return TrainingRun.SUCCEEDED.equals(run.state()) ? 0 : 1;
        }
    }

    @Command(name = "runs", mixinStandardHelpOptions = true, description = "List training runs, newest first.")
    static final class Runs implements Callable<Integer> {
        @Mixin
        Server server;

        @Override
        public Integer call() {
            for (TrainingRun r : server.client().admin().trainingRuns()) {
                System.out.printf(
                        "%-8s %-10s %-9s %-9s %3.0f%%  candidate %s%s%n",
                        r.id(),
                        r.state(),
                        r.trigger(),
                        r.stage(),
                        100 * r.progress(),
                        r.candidate(),
                        r.error() == null ? "" : "  " + r.error());
            }
            return 0;
        }
    }

    @Command(
            name = "delete-user",
            mixinStandardHelpOptions = true,
            description = "Delete a user's prompts, completions and judgements; prints what went and the versions "
                    + "trained on snapshots that held them.")
    static final class DeleteUser implements Callable<Integer> {
        @Mixin
        Server server;

        @Parameters(paramLabel = "USER")
        String user;

        @Override
        public Integer call() {
            var d = server.client().admin().deleteUser(user);
            System.out.println(d);
            return 0;
        }
    }
}
