package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.client.CompletionRequest;
import io.rlhf4j.client.LabelingTask;
import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.client.TrainingRun;
import io.rlhf4j.demo.DemoWorld;
import io.rlhf4j.demo.Labelers;
import io.rlhf4j.demo.SimulatedUsers;
import io.rlhf4j.demo.Task;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * One turn of the whole loop on the demo world, driven only through the public HTTP API with the Java
 * client: simulated users send prompts, demonstration writers and labelers work the labeling queue,
 * then a training run produces a candidate that the server promotes when its gate passes. The turn's
 * result is the gold labelers' win rate of the candidate against the version that served before, against
 * its own SFT model and against the base model.
 */
final class DemoLoop {

    /** How much happens in a turn, and the pipeline overrides its training run uses. */
    record Options(
            int users,
            int prompts,
            int demonstrations,
            int rankings,
            int k,
            Map<String, Object> pipeline,
            Duration runTimeout,
            long seed) {}

    record Turn(
            int turn,
            String version,
            String previous,
            Double winRateVsPrevious,
            Double winRateVsSft,
            Double winRateVsBase,
            Double winRateVsFirstSft,
            boolean gatePassed,
            boolean promoted,
            double seconds,
            int prompts,
            int demonstrations,
            int rankings,
            String run,
            JsonNode gate,
            String error) {}

    private final URI server;
    private final String adminToken;
    private final Options options;
    private final DemoWorld world = DemoWorld.load();
    private final SimulatedUsers users;
    private final Random random;
    private Labelers labelers;
    private int turns;

    DemoLoop(URI server, String adminToken, Options options) {
        this.server = server;
        this.adminToken = adminToken;
        this.options = options;
        this.users = new SimulatedUsers(world, options.users(), options.seed());
        this.random = new Random(options.seed());
    }

    /** What the simulated users and labelers did in a turn. */
    record Judged(int prompts, int demonstrations, int rankings) {}

    Turn turn(Consumer<String> progress) {
        long started = System.nanoTime();
        int turn = ++turns;
        Rlhf4jClient admin = Rlhf4jClient.builder()
                .baseUrl(server)
                .adminToken(adminToken)
                .timeout(Duration.ofMinutes(2))
                .build();
        String previous = active(admin);
        Judged judged = judge(turn, admin, progress);
        int demonstrations = judged.demonstrations();
        int rankings = judged.rankings();

        progress.accept("turn " + turn + ": training");
        TrainingRun run = admin.admin().startTrainingRun(options.pipeline());
        String[] last = {""};
        run = admin.admin().awaitTrainingRun(run.id(), options.runTimeout(), r -> {
            String line = String.format("turn %d: %s %s %.0f%%", turn, r.id(), r.stage(), 100 * r.progress());
            if (!line.equals(last[0])) {
                last[0] = line;
                progress.accept(line);
            }
        });
        JsonNode gate = run.gate();
        return new Turn(
                turn,
                active(admin),
                previous,
                gateFigure(gate, "win_rate"),
                gateFigure(gate, "win_rate_vs_sft"),
                gateFigure(gate, "win_rate_vs_base"),
                gateFigure(gate, "win_rate_vs_first_sft"),
                gate != null && gate.path("passed").asBoolean(),
                run.promoted(),
                (System.nanoTime() - started) / 1e9,
                options.prompts(),
                demonstrations,
                rankings,
                run.id(),
                gate,
                run.error());
    }

    /**
     * The users' prompts, the writers' demonstrations and the labelers' rankings of one turn, through
     * the public API; no training run.
     */
    Judged judge(int turn, Rlhf4jClient admin, Consumer<String> progress) {
        progress.accept("turn " + turn + ": " + options.prompts() + " prompts from simulated users");
        for (int i = 0; i < options.prompts(); i++) {
            SimulatedUsers.Prompt p = users.next();
            admin.complete(CompletionRequest.builder()
                    .prompt(p.task().prompt())
                    .user(p.userId())
                    .maxTokens(32)
                    .temperature(0.7)
                    .build());
        }

        progress.accept("turn " + turn + ": " + options.demonstrations() + " demonstrations");
        int demonstrations = 0;
        for (int i = 0; i < options.demonstrations(); i++) {
            Rlhf4jClient writer = as("sim-writer-" + (i % 8));
            Optional<LabelingTask> task = writer.labeling().next(options.k());
            if (task.isEmpty()) {
                break;
            }
            Optional<Task> t = world.parse(task.get().prompt());
            if (t.isEmpty()) {
                writer.labeling().skip(task.get().promptId(), "not a demo-world task");
                continue;
            }
            writer.labeling().demonstrate(task.get().promptId(), world.demonstration(t.get(), random));
            demonstrations++;
        }

        if (labelers == null) {
            labelers = calibrate(admin);
        }
        progress.accept("turn " + turn + ": " + options.rankings() + " rankings");
        List<String> pool = labelers.groups().stream()
                .flatMap(g -> labelers.labelers(g).stream())
                .toList();
        int rankings = 0;
        for (int i = 0; i < options.rankings(); i++) {
            // Each labeler judges the task it was handed before asking for the next, as people do.
            String labelerId = pool.get(Math.floorMod(i + 7 * turn, pool.size()));
            Rlhf4jClient labeler = as(labelerId);
            Optional<LabelingTask> t = labeler.labeling().next(options.k());
            if (t.isEmpty()) {
                break;
            }
            Optional<Task> task = world.parse(t.get().prompt());
            if (task.isEmpty()) {
                labeler.labeling().skip(t.get().promptId(), "not a demo-world task");
                continue;
            }
            int[] ranks = labelers.rank(labelerId, task.get(), texts(t.get()), random);
            Map<Integer, List<String>> groups = new TreeMap<>();
            for (int c = 0; c < ranks.length; c++) {
                groups.computeIfAbsent(ranks[c], x -> new ArrayList<>())
                        .add(t.get().completions().get(c).id());
            }
            if (groups.size() < 2) {
                labeler.labeling().skip(t.get().promptId(), "all completions are the same");
                continue;
            }
            labeler.labeling().rank(t.get().promptId(), new ArrayList<>(groups.values()));
            rankings++;
        }

        return new Judged(options.prompts(), demonstrations, rankings);
    }

    /**
     * Labelers whose noise is calibrated to the paper's agreement on what they will judge: K completions
     * the serving policy samples for random tasks (asked without training consent, so these requests
     * stay out of the labeling queue and every snapshot).
     */
    private Labelers calibrate(Rlhf4jClient client) {
        List<Labelers.Sample> sample = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            Task t = world.randomTask(random);
            List<String> texts = client
                    .complete(CompletionRequest.builder()
                            .prompt(t.prompt())
                            .n(options.k())
                            .temperature(1.0)
                            .maxTokens(32)
                            .user("sim-calibration")
                            .trainingConsent(false)
                            .build())
                    .choices()
                    .stream()
                    .map(io.rlhf4j.client.Choice::text)
                    .toList();
            sample.add(new Labelers.Sample(t, texts));
        }
        return Labelers.calibrated(world, sample, Labelers.DEFAULT_GROUPS, Labelers.DEFAULT_AGREEMENT, options.seed());
    }

    private final Map<String, Rlhf4jClient> clients = new java.util.HashMap<>();

    /** One client (one HTTP connection pool) per simulated person, kept across turns. */
    private Rlhf4jClient as(String labeler) {
        return clients.computeIfAbsent(
                labeler,
                l -> Rlhf4jClient.builder()
                        .baseUrl(server)
                        .labeler(l)
                        .timeout(Duration.ofMinutes(2))
                        .build());
    }

    private static Double gateFigure(JsonNode gate, String key) {
        return gate == null || !gate.has(key) ? null : gate.get(key).asDouble();
    }

    private static List<String> texts(LabelingTask t) {
        return t.completions().stream().map(LabelingTask.Candidate::text).toList();
    }

    private static String active(Rlhf4jClient admin) {
        return admin.admin().versions().stream()
                .filter(v -> v.active() && "policy".equals(v.kind()))
                .map(io.rlhf4j.client.ModelVersion::version)
                .findFirst()
                .orElse(null);
    }
}
