package io.rlhf4j.demo;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import me.tongfei.progressbar.ProgressBar;

/**
 * Fills a store with the demo world's data collection, offline: simulated users send prompts,
 * demonstration writers answer some, and for others the policy samples K completions that a random
 * labeler from one of the calibrated groups ranks. What a deployment's first weeks would log, so the
 * pipeline has SFT, RM and PPO data without a server.
 */
public final class Simulation {

    /** How much to simulate. */
    public record Options(
            int users, int prompts, int demonstrations, int rankings, int k, int maxNewTokens, long seed) {
        public Options {
            if (demonstrations + rankings > prompts) {
                throw new IllegalArgumentException("demonstrations + rankings (" + (demonstrations + rankings)
                        + ") exceed the prompts (" + prompts + ")");
            }
            if (k < Judgement.MIN_K || k > Judgement.MAX_K) {
                throw new IllegalArgumentException(
                        "k must be " + Judgement.MIN_K + ".." + Judgement.MAX_K + ", got " + k);
            }
            if (users < 1) {
                throw new IllegalArgumentException("users must be at least 1");
            }
        }

        public static Options defaults() {
            return new Options(300, 1600, 500, 400, 4, 32, 7);
        }
    }

    public record Summary(int prompts, int demonstrations, int rankings, double sigma, double agreement) {}

    private Simulation() {}

    public static Summary populate(Store store, DemoWorld world, Path policy, Options o, PrintStream log)
            throws IOException {
        Random r = new Random(o.seed());
        SimulatedUsers users = new SimulatedUsers(world, o.users(), o.seed());
        long t0 = System.currentTimeMillis();
        List<PromptLog> logs = new ArrayList<>();
        List<Task> tasks = new ArrayList<>();
        for (int i = 0; i < o.prompts(); i++) {
            SimulatedUsers.Prompt p = users.next();
            tasks.add(p.task());
            logs.add(new PromptLog(
                    String.format("sim-%d-%06d", o.seed(), i),
                    p.userId(),
                    true,
                    "simulated",
                    p.task().prompt(),
                    null,
                    "{}",
                    t0 + i,
                    List.of()));
        }
        store.prompts().log(logs);
        for (int i = 0; i < o.demonstrations(); i++) {
            store.judgements()
                    .addDemonstration(new Judgement.Demonstration(
                            "sim-demo-" + o.seed() + "-" + i,
                            logs.get(i).id(),
                            "sim-writer-" + (i % 8),
                            world.demonstration(tasks.get(i), r),
                            "simulated",
                            t0 + i));
        }
        // The policy's completions for the ranking prompts, then labelers calibrated on them.
        List<List<String>> completions = new ArrayList<>();
        Tokenizer tokenizer = Checkpoint.readTokenizer(policy);
        int from = o.demonstrations();
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.load(policy, manager);
                ProgressBar bar = io.rlhf4j.trainer.run.RunDirectory.progressBar("sampling", o.rankings(), log)) {
            Generator generator = new Generator(model, tokenizer);
            int batch = Math.max(1, 32 / o.k());
            for (int i = 0; i < o.rankings(); i += batch) {
                List<int[]> prompts = new ArrayList<>();
                for (int j = i; j < Math.min(o.rankings(), i + batch); j++) {
                    int[] ids = tokenizer.encode(tasks.get(from + j).prompt(), true);
                    for (int c = 0; c < o.k(); c++) {
                        prompts.add(ids);
                    }
                }
                List<Generation> gens = generator.generate(
                        prompts,
                        new SamplingParams(o.maxNewTokens(), 1.0, 1.0, 0, List.of(), o.seed() * 1_000_003L + i));
                for (int j = 0; j < gens.size(); j += o.k()) {
                    completions.add(gens.subList(j, j + o.k()).stream()
                            .map(Generation::text)
                            .toList());
                }
                bar.stepTo(Math.min(o.rankings(), i + batch));
            }
        }
        List<Labelers.Sample> samples = new ArrayList<>();
        for (int i = 0; i < o.rankings(); i++) {
            samples.add(new Labelers.Sample(tasks.get(from + i), completions.get(i)));
        }
        Labelers labelers =
                Labelers.calibrated(world, samples, Labelers.DEFAULT_GROUPS, Labelers.DEFAULT_AGREEMENT, o.seed());
        double agreement = labelers.agreement(samples, new Random(o.seed() + 1));
        List<String> everyone = labelers.groups().stream()
                .flatMap(g -> labelers.labelers(g).stream())
                .toList();
        for (int i = 0; i < o.rankings(); i++) {
            PromptLog p = logs.get(from + i);
            List<PromptLog.Completion> fresh = new ArrayList<>();
            for (String text : completions.get(i)) {
                fresh.add(new PromptLog.Completion(0, text, 0, null, "stop"));
            }
            List<PromptLog.Completion> stored =
                    store.prompts().addCompletions(p.id(), "simulated-policy", fresh, t0 + from + i);
            String labeler = everyone.get(r.nextInt(everyone.size()));
            int[] ranks = labelers.rank(labeler, tasks.get(from + i), completions.get(i), r);
            if (java.util.Arrays.stream(ranks).distinct().count() < 2) {
                continue; // identical completions: nothing to rank
            }
            store.judgements()
                    .addRanking(new Judgement.Ranking(
                            "sim-rank-" + o.seed() + "-" + i,
                            p.id(),
                            labeler,
                            stored.stream().map(PromptLog.Completion::index).toList(),
                            ranks,
                            "simulated",
                            t0 + from + i));
        }
        log.printf(
                "simulated %d prompts from %d users, %d demonstrations, %d rankings (K = %d) by %d labelers in %d "
                        + "groups; noise sigma %.3f gives %.1f%% inter-labeler agreement%n",
                o.prompts(),
                o.users(),
                o.demonstrations(),
                o.rankings(),
                o.k(),
                everyone.size(),
                labelers.groups().size(),
                labelers.sigma(),
                100 * agreement);
        return new Summary(o.prompts(), o.demonstrations(), o.rankings(), labelers.sigma(), agreement);
    }
}
