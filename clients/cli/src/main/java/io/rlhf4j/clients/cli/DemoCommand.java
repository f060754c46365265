package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.store.ApiKey;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.demo.Labelers;
import io.rlhf4j.serving.ServingApp;
import io.rlhf4j.serving.loop.LoopOptions;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Run the whole loop unattended on the demo world: a server on the demo model, simulated users "
                    + "sending prompts, simulated labelers ranking through the labeling API, a training run per turn whose "
                    + "candidate is promoted when it beats the serving version by the gold labelers' judgement.",
            "Prints one line per turn, or one JSON object per turn with --json; the admin console at / shows the "
                    + "runs while it goes."
        })
final class DemoCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE);

    @Option(names = "--turns", defaultValue = "2", description = "loop turns (default ${DEFAULT-VALUE})")
    int turns;

    @Option(names = "--json", description = "one JSON object per turn on stdout")
    boolean json;

    @Option(names = "--data-dir", description = "store and registry (default: a new temporary directory)")
    Path dataDir;

    @Option(names = "--port", defaultValue = "0", description = "HTTP port; 0 picks a free one")
    int port;

    @Option(names = "--users", defaultValue = "120")
    int users;

    @Option(names = "--prompts", defaultValue = "400", description = "prompts per turn (default ${DEFAULT-VALUE})")
    int prompts;

    @Option(names = "--demonstrations", defaultValue = "160", description = "per turn (default ${DEFAULT-VALUE})")
    int demonstrations;

    @Option(names = "--rankings", defaultValue = "120", description = "per turn (default ${DEFAULT-VALUE})")
    int rankings;

    @Option(names = "--k", defaultValue = "4", description = "completions per ranking, 4..9")
    int k;

    @Option(names = "--ppo-iterations", defaultValue = "20")
    int ppoIterations;

    @Option(
            names = "--policy",
            defaultValue = "ppo",
            description =
                    "the policy stage of each turn's pipeline: ppo (PPO-ptx), dpo or rloo (default ${DEFAULT-VALUE})")
    String policy;

    @Option(names = "--seed", defaultValue = "7")
    long seed;

    @Override
    public Integer call() throws Exception {
        Path data = dataDir != null ? dataDir : Files.createTempDirectory("rlhf4j-demo");
        String token = ApiKey.generate();
        LoopOptions loop = LoopOptions.enabled(new SelfLauncher(), DemoModel.locate())
                .withAutoPromote(true)
                .withHeldOutLabelers(Labelers.HELD_OUT_PREFIX);
        try (ServingApp app = ServingApp.start(ServingApp.Config.defaults(data)
                .withPort(port)
                .withAdminToken(token)
                .withLoop(loop))) {
            if (app.store().versions().active(ModelVersion.POLICY).isEmpty()) {
                app.registerAndActivate(ServeCommand.exported(DemoModel.locate()));
            }
            URI base = URI.create("http://127.0.0.1:" + app.port());
            System.err.printf(
                    "demo server on %s (admin console: %s/admin.html, admin token %s...), data in %s%n",
                    base, base, token.substring(0, 10), data);
            DemoLoop demo = new DemoLoop(
                    base,
                    token,
                    new DemoLoop.Options(
                            users,
                            prompts,
                            demonstrations,
                            rankings,
                            k,
                            pipeline(ppoIterations, policy),
                            Duration.ofHours(2),
                            seed));
            for (int i = 0; i < turns; i++) {
                DemoLoop.Turn t = demo.turn(line -> System.err.println(line));
                if (json) {
                    ObjectNode o = JSON.valueToTree(t);
                    System.out.println(o.toString());
                } else {
                    System.out.printf(
                            "turn %d: version %s (was %s), gold win rate vs previous %s (vs its SFT %s, vs the first SFT "
                                    + "%s, vs base %s), gate %s, promoted %s, %.0f s%n",
                            t.turn(),
                            t.version(),
                            t.previous(),
                            figure(t.winRateVsPrevious()),
                            figure(t.winRateVsSft()),
                            figure(t.winRateVsFirstSft()),
                            figure(t.winRateVsBase()),
                            t.gatePassed() ? "passed" : "failed",
                            t.promoted(),
                            t.seconds());
                }
                System.out.flush();
            }
        }
        return 0;
    }

    private static String figure(Double x) {
        return x == null ? "n/a" : String.format("%.3f", x);
    }

    /** The demo's pipeline: judged by the gold labelers, sized for a turn of a few minutes on two cores. */
    static Map<String, Object> pipeline(int ppoIterations, String policy) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("policy", policy);
        p.put("ppo", Map.of("iterations", ppoIterations));
        p.put("eval", Map.of("judge", "gold"));
        return p;
    }
}
