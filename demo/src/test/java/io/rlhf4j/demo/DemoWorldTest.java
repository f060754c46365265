package io.rlhf4j.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DemoWorldTest {

    static final DemoWorld WORLD = DemoWorld.load();

    /** K = 4: the demonstration, another task's demonstration, a truncated and a repeated version. */
    static List<Labelers.Sample> samples(int n, Random r) {
        List<Labelers.Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Task t = WORLD.randomTask(r);
            String demo = WORLD.demonstration(t, r);
            List<String> completions = new ArrayList<>(List.of(
                    demo,
                    WORLD.demonstration(WORLD.randomTask(r), r),
                    demo.substring(0, Math.max(2, demo.length() / 2)),
                    (demo + ",").repeat(3)));
            Collections.shuffle(completions, r);
            out.add(new Labelers.Sample(t, completions));
        }
        return out;
    }

    /** The pool holds every kind, with WordNet's answers, and demonstrations start with exactly one space. */
    @Test
    void poolHasEveryKindAndPromptsEndInThePretrainingCue() {
        for (TaskKind k : TaskKind.values()) {
            assertThat(WORLD.tasks(k)).as(k.name()).hasSizeGreaterThan(1000);
        }
        Task dog = WORLD.parse("Define: dog (noun):").orElseThrow();
        assertThat(dog.references())
                .containsExactly("a member of the genus Canis (probably descended from the common"
                        + " wolf) that has been domesticated by man since prehistoric times; occurs in many breeds");
        assertThat(WORLD.demonstration(dog, new Random(1)))
                .startsWith(" a member")
                .doesNotStartWith("  ");
        assertThat(WORLD.parse("Synonym of: dog (noun):").orElseThrow().references())
                .contains("domestic dog", "Canis familiaris");
        assertThat(WORLD.parse("Antonym of: happy (adjective):").orElseThrow().references())
                .containsExactly("unhappy");
        assertThat(WORLD.parse("More general word for: dog (noun):")
                        .orElseThrow()
                        .references())
                .contains("canine");
        assertThat(WORLD.parse("Use in a sentence: dog (noun):").orElseThrow().references())
                .containsExactly("the dog barked all night");
    }

    /** The judge recovers a task from its prompt text, and from nothing else. */
    @Test
    void parseRecoversExactlyTheTasksPrompts() {
        Random r = new Random(7);
        for (int i = 0; i < 2000; i++) {
            Task t = WORLD.randomTask(r);
            assertThat(WORLD.parse(t.prompt())).contains(t);
        }
        for (String other : List.of(
                "",
                "hello",
                "Define: dog (noun)",
                "Define: dog (noun): ",
                "define: dog (noun):",
                "Define: Dog (noun):",
                "Define: xyzzyq (noun):",
                "Antonym of: dog (noun):",
                "Define: dog (noun): a")) {
            assertThat(WORLD.parse(other)).as(other).isEmpty();
        }
    }

    /** Rare kinds (antonyms, sentences) are asked as often as definitions. */
    @Test
    void kindsAreRoughlyBalanced() {
        Random r = new Random(3);
        var counts = IntStream.range(0, 5000)
                .mapToObj(i -> WORLD.randomTask(r).kind())
                .collect(Collectors.groupingBy(k -> k, Collectors.counting()));
        assertThat(counts.values()).allSatisfy(c -> assertThat(c).isBetween(850L, 1150L));
    }

    /** Gold ranks the reference answer above shuffled, unrelated, looping, repeated and empty answers. */
    @Test
    void goldPrefersTheDemonstrationOverCorruptedAndWrongAnswersForEveryKind() {
        Random r = new Random(11);
        List<Task> definitions = WORLD.tasks(TaskKind.DEFINE);
        for (TaskKind k : TaskKind.values()) {
            int shuffledChecked = 0;
            for (int i = 0; i < 100; i++) {
                Task t = WORLD.tasks(k).get(r.nextInt(WORLD.tasks(k).size()));
                String demo = WORLD.demonstration(t, r);
                double best = WORLD.gold(t, demo);
                assertThat(best).as(t.prompt()).isGreaterThan(0.9);

                // Shuffled words; a one-word answer gets its letters shuffled instead.
                List<String> words = DemoWorld.words(demo);
                List<String> parts =
                        words.size() > 1 ? words : List.of(words.get(0).split(""));
                List<String> shuffled = new ArrayList<>(parts);
                for (int tries = 0; tries < 10 && shuffled.equals(parts); tries++) {
                    Collections.shuffle(shuffled, r);
                }
                if (!shuffled.equals(parts)) {
                    shuffledChecked++;
                    String text = " " + String.join(words.size() > 1 ? " " : "", shuffled);
                    assertThat(WORLD.gold(t, text)).as(t.prompt() + text).isLessThan(best);
                }
                Task unrelated = definitions.get(r.nextInt(definitions.size()));
                if (!unrelated.word().equals(t.word())) {
                    assertThat(WORLD.gold(t, WORLD.demonstration(unrelated, r)))
                            .as(t.prompt() + " unrelated")
                            .isLessThan(best);
                }
                assertThat(WORLD.gold(t, (" " + words.get(0)).repeat(12)))
                        .as(t.prompt() + " loop")
                        .isLessThan(best);
                assertThat(WORLD.gold(t, (demo + ",").repeat(4)))
                        .as(t.prompt() + " repeated")
                        .isLessThan(best);
                assertThat(WORLD.gold(t, "")).isZero();
                assertThat(WORLD.gold(t, " \n ")).isZero();
            }
            assertThat(shuffledChecked).as(k + " shuffles checked").isGreaterThan(90);
        }
    }

    /** Calibration carries over to a fresh sample, and the groups' noise is independent (a majority is wiser). */
    @Test
    void calibratedLabelersAgreeLikeInstructGptsAndTheirMajorityBeatsOneLabeler() {
        Random r = new Random(5);
        Labelers labelers =
                Labelers.calibrated(WORLD, samples(500, r), Labelers.DEFAULT_GROUPS, Labelers.DEFAULT_AGREEMENT, 42);
        List<Labelers.Sample> fresh = samples(500, r);
        double agreement = labelers.agreement(fresh, r);
        assertThat(agreement).isCloseTo(0.73, within(0.03));

        int pairs = 0;
        int single = 0;
        double majority = 0;
        for (Labelers.Sample s : fresh) {
            List<int[]> ranks = labelers.groups().stream()
                    .map(g -> labelers.rank(labelers.labelers(g).get(0), s.task(), s.completions(), r))
                    .toList();
            double[] gold = s.completions().stream()
                    .mapToDouble(c -> WORLD.gold(s.task(), c))
                    .toArray();
            for (int i = 0; i < gold.length; i++) {
                for (int j = i + 1; j < gold.length; j++) {
                    if (gold[i] == gold[j]) {
                        continue;
                    }
                    boolean iBetter = gold[i] > gold[j];
                    pairs++;
                    single += (ranks.get(0)[i] < ranks.get(0)[j]) == iBetter ? 1 : 0;
                    int i2 = i;
                    int j2 = j;
                    long votes = ranks.stream()
                            .filter(rk -> (rk[i2] < rk[j2]) == iBetter)
                            .count();
                    majority += 2 * votes > ranks.size() ? 1 : 2 * votes == ranks.size() ? 0.5 : 0;
                }
            }
        }
        System.out.printf(
                "sigma %.4f, agreement on a fresh sample %.4f, gold accuracy: one labeler %.3f," + " majority %.3f%n",
                labelers.sigma(), agreement, (double) single / pairs, majority / pairs);
        assertThat(majority / pairs).isGreaterThan((double) single / pairs + 0.03);
    }

    /** Ties only for identical texts (the ranking loss drops them), and the ids and groups the pipeline uses. */
    @Test
    void rankGivesEqualRanksOnlyToIdenticalTexts() {
        Labelers labelers = new Labelers(WORLD, Labelers.DEFAULT_GROUPS, 0.2, 1);
        Task dog = WORLD.parse("Define: dog (noun):").orElseThrow();
        String demo = WORLD.demonstration(dog, new Random(1));
        List<String> completions = List.of(" cat", demo, " cat", " a dog");
        int[] ranks = labelers.rank("sim-labeler-group-c-2", dog, completions, new Random(2));
        assertThat(ranks[0]).isEqualTo(ranks[2]);
        assertThat(Set.of(ranks[0], ranks[1], ranks[3])).hasSize(3);
        assertThat(labelers.groups()).containsExactly("group-a", "group-b", "group-c", "group-d", "group-e", "group-f");
        assertThat(labelers.heldOutGroup()).isEqualTo("group-f");
        assertThat(labelers.groupOf("sim-labeler-group-c-2")).isEqualTo("group-c");
        assertThat(labelers.labelers("group-c"))
                .contains("sim-labeler-group-c-2")
                .hasSize(Labelers.LABELERS_PER_GROUP);
    }

    /** A seed reproduces the whole simulated data collection: users, prompts, calibration and rankings. */
    @Test
    void sameSeedGivesSameUsersPromptsAndRankings() {
        SimulatedUsers a = new SimulatedUsers(WORLD, 100, 9);
        SimulatedUsers b = new SimulatedUsers(WORLD, 100, 9);
        List<SimulatedUsers.Prompt> pa =
                IntStream.range(0, 300).mapToObj(i -> a.next()).toList();
        assertThat(IntStream.range(0, 300).mapToObj(i -> b.next()).toList()).isEqualTo(pa);
        assertThat(pa.get(0).userId()).matches("sim-user-\\d{4}");
        assertThat(a.users()).hasSize(100).contains("sim-user-0042");
        // Users differ: their favourite kinds are not all the same.
        assertThat(a.users().stream()
                        .map(u -> a.mix(u).entrySet().stream()
                                .max(Map.Entry.comparingByValue())
                                .orElseThrow()
                                .getKey())
                        .distinct()
                        .count())
                .isEqualTo(5);
        assertThat(new SimulatedUsers(WORLD, 100, 10).next()).isNotEqualTo(new SimulatedUsers(WORLD, 100, 9).next());

        List<Labelers.Sample> sample = samples(100, new Random(4));
        Labelers la = Labelers.calibrated(WORLD, sample, 6, 0.73, 8);
        Labelers lb = Labelers.calibrated(WORLD, sample, 6, 0.73, 8);
        assertThat(lb.sigma()).isEqualTo(la.sigma());
        for (Labelers.Sample s : sample) {
            assertThat(lb.rank("sim-labeler-group-b-1", s.task(), s.completions(), new Random(3)))
                    .isEqualTo(la.rank("sim-labeler-group-b-1", s.task(), s.completions(), new Random(3)));
        }
    }
}
