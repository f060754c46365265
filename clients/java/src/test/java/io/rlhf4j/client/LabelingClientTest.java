package io.rlhf4j.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.serving.ServingApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The labeling queue, consent, deletion of a user's data and training runs, through the SDK against a real
 * server on loopback (open mode, admin token "t"). Training runs use a stand-in pipeline: a shell script
 * that follows the server's child-process protocol (progress file, metrics, export directory) in seconds
 * instead of training.
 */
class LabelingClientTest {

    @TempDir
    static Path tmp;

    static ServingApp app;
    static Path export;
    static Rlhf4jClient client;

    @BeforeAll
    static void start() throws Exception {
        export = TestModels.exportPolicy(tmp.resolve("export"));
        ServingApp.Config config =
                ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken("t");
        app = ServingApp.start(config);
        app.registerAndActivate(export);
        client = Rlhf4jClient.builder()
                .baseUrl("http://127.0.0.1:" + app.port())
                .adminToken("t")
                .timeout(Duration.ofSeconds(120))
                .build();
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
    }

    /** A copy of the policy export whose manifest says what a pipeline's candidate would: its gate and snapshot. */
    static Path candidateExport(Path dir, boolean gatePassed, String snapshot) throws Exception {
        Files.createDirectories(dir);
        try (Stream<Path> files = Files.list(export)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        ObjectNode manifest =
                (ObjectNode) Json.MAPPER.readTree(dir.resolve("manifest.json").toFile());
        manifest.putObject("gate")
                .put("passed", gatePassed)
                .put("win_rate", gatePassed ? 0.61 : 0.4)
                .put("n", 8)
                .put("reason", gatePassed ? "win rate above 0.5" : "win rate 0.4 below 0.5");
        // Both spellings of the snapshot the server has read: a name, and the trainers' path.
        manifest.putObject("training")
                .put("snapshot", snapshot)
                .put(
                        "data_snapshot",
                        tmp.resolve("data")
                                .resolve("snapshots")
                                .resolve(snapshot)
                                .toAbsolutePath()
                                .toString());
        Files.writeString(dir.resolve("manifest.json"), manifest.toString());
        return dir;
    }

    /** A user id the server's split puts in training (not held out), distinct per name. */
    static String trainUser(String name) {
        for (int i = 0; ; i++) {
            String id = name + "-" + i;
            if (SplitPolicy.TRAIN.equals(new SplitPolicy(25, 25).splitOf(id))) {
                return id;
            }
        }
    }

    static void logPrompts(String user, List<String> prompts) {
        for (String p : prompts) {
            client.complete(CompletionRequest.builder()
                    .prompt(p)
                    .maxTokens(4)
                    .temperature(0)
                    .user(user)
                    .build());
        }
    }

    /**
     * The next task among {@code mine}: other tests' prompts share the queue, so they are skipped (for this
     * labeler only).
     */
    static Optional<LabelingTask> nextOwn(LabelingClient labeling, Set<String> mine) {
        for (int i = 0; i < 40; i++) {
            Optional<LabelingTask> t = labeling.next(4);
            if (t.isEmpty() || mine.contains(t.get().prompt())) {
                return t;
            }
            labeling.skip(t.get().promptId(), "another test's prompt");
        }
        throw new AssertionError("the queue did not run dry");
    }

    static Rlhf4jClient labeler(String name) {
        return Rlhf4jClient.builder()
                .baseUrl(client.baseUrl())
                .labeler(name)
                .timeout(Duration.ofSeconds(120))
                .build();
    }

    static String activePolicy() {
        return client.models().stream()
                .filter(Model::active)
                .map(Model::id)
                .findFirst()
                .orElseThrow();
    }

    @Test
    void aLabelerRanksDemonstratesAndSkipsLoggedPrompts() {
        String user = trainUser("alice");
        List<String> prompts = List.of("apple (noun):", "river (noun):", "jump (verb):");
        logPrompts(user, prompts);
        LabelingClient lab = labeler("lab-a").labeling();
        Set<String> mine = new HashSet<>(prompts);

        LabelingTask t1 = nextOwn(lab, mine).orElseThrow();
        assertThat(t1.completions()).hasSize(4);
        // Indices number the prompt's stored completions (the logged answer first), not places in the task.
        assertThat(t1.completions())
                .extracting(LabelingTask.Candidate::index)
                .doesNotHaveDuplicates()
                .isSorted();
        assertThat(new HashSet<>(t1.completionIds())).hasSize(4);
        assertThat(t1.model()).isEqualTo(activePolicy());
        assertThat(t1.promptId()).isNotBlank();
        List<String> c = t1.completionIds();

        Rlhf4jException tied = catchThrowableOfType(Rlhf4jException.class, () -> lab.rank(t1.promptId(), List.of(c)));
        assertThat(tied.status()).isEqualTo(400);
        Rlhf4jException stranger = catchThrowableOfType(
                Rlhf4jException.class,
                () -> lab.rank(t1.promptId(), List.of(List.of(c.get(0)), List.of("not-a-completion"))));
        assertThat(stranger.status()).isEqualTo(400);
        assertThat(stranger.param()).isEqualTo("ranking");
        Rlhf4jException twice = catchThrowableOfType(
                Rlhf4jException.class, () -> lab.rank(t1.promptId(), List.of(List.of(c.get(0)), List.of(c.get(0)))));
        assertThat(twice.status()).isEqualTo(400);
        Rlhf4jException flag = catchThrowableOfType(
                Rlhf4jException.class,
                () -> lab.rank(
                        t1.promptId(),
                        List.of(List.of(c.get(0)), List.of(c.get(1))),
                        null,
                        Map.of(c.get(1), List.of("boring"))));
        assertThat(flag.status()).isEqualTo(400);
        assertThat(flag.param()).isEqualTo("flags");
        Rlhf4jException score = catchThrowableOfType(
                Rlhf4jException.class,
                () -> lab.rank(
                        t1.promptId(), List.of(List.of(c.get(0)), List.of(c.get(1))), Map.of(c.get(0), 9), null));
        assertThat(score.status()).isEqualTo(400);
        assertThat(score.param()).isEqualTo("scores");
        Rlhf4jException unknown = catchThrowableOfType(
                Rlhf4jException.class, () -> lab.rank("no-such-prompt", List.of(List.of("a"), List.of("b"))));
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.code()).isEqualTo("prompt_not_found");
        Rlhf4jException k = catchThrowableOfType(Rlhf4jException.class, () -> lab.next(3));
        assertThat(k.status()).isEqualTo(400);
        assertThat(k.param()).isEqualTo("k");

        String ranking = lab.rank(
                t1.promptId(),
                List.of(List.of(c.get(0)), List.of(c.get(1), c.get(2)), List.of(c.get(3))),
                Map.of(c.get(0), 6, c.get(3), 2),
                Map.of(c.get(3), List.of("hallucination", "fails_to_follow_instruction")));
        assertThat(ranking).isNotBlank();

        LabelingTask t2 = nextOwn(lab, mine).orElseThrow();
        assertThat(t2.promptId()).isNotEqualTo(t1.promptId());
        assertThat(lab.demonstrate(t2.promptId(), "A fruit that grows on trees."))
                .isNotBlank();

        LabelingTask t3 = nextOwn(lab, mine).orElseThrow();
        assertThat(Set.of(t1.prompt(), t2.prompt(), t3.prompt())).isEqualTo(mine);
        lab.skip(t3.promptId(), "unclear");

        assertThat(nextOwn(lab, mine))
                .as("every prompt answered by this labeler")
                .isEmpty();
    }

    @Test
    void optingOutTakesAUsersPromptsOutOfTheQueueAndOptingInPutsThemBack() {
        String user = trainUser("bob");
        List<String> prompts = List.of("tree (noun):", "eat (verb):");
        logPrompts(user, prompts);
        Consent out = client.consent(user, false);
        assertThat(out).isEqualTo(new Consent(user, false, 2));
        assertThat(nextOwn(labeler("lab-b").labeling(), new HashSet<>(prompts))).isEmpty();

        Consent in = client.consent(user, true);
        assertThat(in.trainingConsent()).isTrue();
        assertThat(in.promptsUpdated()).isEqualTo(2);
        LabelingTask t =
                nextOwn(labeler("lab-b2").labeling(), new HashSet<>(prompts)).orElseThrow();
        assertThat(prompts).contains(t.prompt());
    }

    @Test
    void deletingAUserReportsWhatWentAndWhatWasTrainedOnIt() throws Exception {
        String user = trainUser("carol");
        List<String> prompts = List.of("red (adjective):", "happy (adjective):");
        logPrompts(user, prompts);
        LabelingClient lab = labeler("lab-c").labeling();
        LabelingTask t = nextOwn(lab, new HashSet<>(prompts)).orElseThrow();
        List<String> c = t.completionIds();
        lab.rank(t.promptId(), List.of(List.of(c.get(0)), List.of(c.get(1)), List.of(c.get(2), c.get(3))));

        // A version trained on a snapshot that holds carol's prompts.
        Path snapshot = tmp.resolve("data").resolve("snapshots").resolve("snap-del");
        Files.createDirectories(snapshot);
        Files.writeString(
                snapshot.resolve("prompts.jsonl"),
                "{\"id\":\"p1\",\"user_id\":\"" + user + "\",\"text\":\"red (adjective):\"}\n");
        String trained = client.admin()
                .register(candidateExport(tmp.resolve("trained-on-carol"), true, "snap-del")
                        .toAbsolutePath())
                .version();

        UserDeletion d = client.admin().deleteUser(user);
        assertThat(d.user()).isEqualTo(user);
        assertThat(d.deleted().prompts()).isEqualTo(2);
        assertThat(d.deleted().rankings()).isEqualTo(1);
        assertThat(d.deleted().demonstrations()).isZero();
        assertThat(d.deleted().completions()).isGreaterThanOrEqualTo(2 + 4);
        assertThat(d.snapshots()).containsExactly("snap-del");
        assertThat(d.modelVersions()).containsExactly(trained);

        assertThat(nextOwn(labeler("lab-c2").labeling(), new HashSet<>(prompts)))
                .isEmpty();
        UserDeletion nobody = client.admin().deleteUser(trainUser("nobody"));
        assertThat(nobody.deleted()).isEqualTo(new UserDeletion.Counts(0, 0, 0, 0));
    }

    @Test
    void withKeysOnlyALabelerKeyMayLabel() throws Exception {
        // A server of its own: once it has had a key it never reopens, and the other tests want it open.
        try (ServingApp own = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("keys-data")).withPort(0).withAdminToken("t"))) {
            own.registerAndActivate(export);
            onlyALabelerKeyMayLabel(Rlhf4jClient.builder()
                    .baseUrl("http://127.0.0.1:" + own.port())
                    .adminToken("t")
                    .timeout(Duration.ofSeconds(120))
                    .build());
        }
    }

    private static void onlyALabelerKeyMayLabel(Rlhf4jClient client) {
        ApiKey labelerKey = client.admin().createKey("dana", ApiKey.LABELER);
        ApiKey userKey = client.admin().createKey("erin", ApiKey.USER);
        try {
            Rlhf4jClient erin = Rlhf4jClient.builder()
                    .baseUrl(client.baseUrl())
                    .apiKey(userKey.key())
                    .build();
            Rlhf4jException e = catchThrowableOfType(
                    Rlhf4jException.class, () -> erin.labeling().next(4));
            assertThat(e.status()).isEqualTo(403);
            assertThat(e.code()).isEqualTo("not_a_labeler");
            Rlhf4jClient dana = Rlhf4jClient.builder()
                    .baseUrl(client.baseUrl())
                    .apiKey(labelerKey.key())
                    .timeout(Duration.ofSeconds(120))
                    .build();
            dana.labeling().next(4).ifPresent(t -> dana.labeling().skip(t.promptId(), "test"));
            Rlhf4jException anonymous = catchThrowableOfType(
                    Rlhf4jException.class,
                    () -> Rlhf4jClient.builder()
                            .baseUrl(client.baseUrl())
                            .labeler("x")
                            .build()
                            .labeling()
                            .next(4));
            assertThat(anonymous.status()).isEqualTo(401);
        } finally {
            client.admin().revokeKey(labelerKey.prefix());
            client.admin().revokeKey(userKey.prefix());
        }
    }
}
