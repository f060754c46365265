package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.trainer.data.SeedImporter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(
        name = "data",
        mixinStandardHelpOptions = true,
        description = "Training data in the store.",
        subcommands = {
            DataCommand.Import.class,
            DataCommand.Build.class,
            DataCommand.Export.class,
            DataCommand.Simulate.class
        })
final class DataCommand {

    @Command(
            name = "build",
            mixinStandardHelpOptions = true,
            description = {
                "Build an immutable training snapshot from the store: consenting users only, prompts "
                        + "sharing a long prefix dropped, a cap per user, train/validation/test split by user id, "
                        + "disjoint SFT / RM / PPO prompt sets.",
                "Writes <data-dir>/snapshots/snap-N and prints its manifest."
            })
    static final class Build implements Callable<Integer> {
        @Mixin
        StoreOptions store;

        @picocli.CommandLine.Option(
                names = "--prefix-chars",
                defaultValue = "40",
                description = "prompts sharing this many leading characters are duplicates (default ${DEFAULT-VALUE})")
        int prefixChars;

        @picocli.CommandLine.Option(
                names = "--max-per-user",
                defaultValue = "200",
                description = "default ${DEFAULT-VALUE}")
        int maxPerUser;

        @picocli.CommandLine.Option(names = "--validation-percent", defaultValue = "10")
        int validation;

        @picocli.CommandLine.Option(names = "--test-percent", defaultValue = "10")
        int test;

        @picocli.CommandLine.Option(
                names = "--held-out-labelers",
                defaultValue = "",
                paramLabel = "PREFIX",
                description =
                        "rankings by labelers whose id starts with PREFIX go to rm.heldout.jsonl, to evaluate the "
                                + "reward model on labelers it never saw")
        String heldOut;

        @Override
        public Integer call() throws Exception {
            try (Store s = store.open()) {
                var manifest = io.rlhf4j.trainer.data.DatasetBuilder.build(
                        s,
                        store.dataDir.resolve("snapshots"),
                        new io.rlhf4j.trainer.data.DatasetBuilder.Options(
                                prefixChars,
                                maxPerUser,
                                new io.rlhf4j.core.loop.SplitPolicy(validation, test),
                                heldOut));
                System.out.println(manifest.toPrettyString());
            }
            return 0;
        }
    }

    @Command(
            name = "import",
            mixinStandardHelpOptions = true,
            description = {
                "Import seed data so training can start without logs. A bad line refuses the whole file.",
                "demonstrations FILE.jsonl: {\"prompt\", \"completion\"} lines, or self-instruct seed tasks.",
                "rankings FILE.jsonl: {\"prompt\", \"completions\": [best..worst], \"ranks\"?} with K = 2..12;"
                        + " or InstructGPT's truthful_qa_samples.csv (K = 12 by true x info)."
            })
    static final class Import implements Callable<Integer> {

        enum Kind {
            demonstrations,
            rankings
        }

        @Mixin
        StoreOptions store;

        @Parameters(index = "0", description = "demonstrations or rankings")
        Kind kind;

        @Parameters(index = "1", paramLabel = "FILE")
        Path file;

        @Override
        public Integer call() throws Exception {
            try (Store s = store.open()) {
                SeedImporter.Summary r = kind == Kind.demonstrations
                        ? SeedImporter.demonstrations(s, file)
                        : SeedImporter.rankings(s, file);
                System.err.printf(
                        "imported %d prompts, %d completions, %d demonstrations, %d rankings from %s%n",
                        r.prompts(), r.completions(), r.demonstrations(), r.rankings(), file);
            }
            return 0;
        }
    }

    @Command(
            name = "simulate",
            mixinStandardHelpOptions = true,
            description = {
                "The demo world's data collection, offline: simulated users send WordNet instruction prompts, "
                        + "demonstration writers answer some, and labelers in 6 groups (noise calibrated to ~73%% agreement) "
                        + "rank K completions the --policy samples for others.",
                "Everything goes into the store, as a "
                        + "deployment would log it; then `data build` and `train pipeline`."
            })
    static final class Simulate implements Callable<Integer> {
        private static final io.rlhf4j.demo.Simulation.Options D = io.rlhf4j.demo.Simulation.Options.defaults();

        @Mixin
        StoreOptions store;

        @picocli.CommandLine.Option(
                names = "--policy",
                paramLabel = "DIR",
                description = "samples the completions to " + "rank (default: the bundled demo model)")
        Path policy;

        @picocli.CommandLine.Option(names = "--users")
        int users = D.users();

        @picocli.CommandLine.Option(names = "--prompts")
        int prompts = D.prompts();

        @picocli.CommandLine.Option(names = "--demonstrations")
        int demonstrations = D.demonstrations();

        @picocli.CommandLine.Option(names = "--rankings")
        int rankings = D.rankings();

        @picocli.CommandLine.Option(names = "--k", description = "completions per ranking (default ${DEFAULT-VALUE})")
        int k = D.k();

        @picocli.CommandLine.Option(names = "--max-new-tokens")
        int maxNew = D.maxNewTokens();

        @picocli.CommandLine.Option(names = "--seed")
        long seed = D.seed();

        @Override
        public Integer call() throws Exception {
            Path model = policy != null ? policy : DemoModel.locate();
            try (Store s = store.open()) {
                var summary = io.rlhf4j.demo.Simulation.populate(
                        s,
                        io.rlhf4j.demo.DemoWorld.load(),
                        model,
                        new io.rlhf4j.demo.Simulation.Options(
                                users, prompts, demonstrations, rankings, k, maxNew, seed),
                        System.err);
                System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(summary));
            }
            return 0;
        }
    }

    @Command(
            name = "export",
            mixinStandardHelpOptions = true,
            description = {
                "Write a snapshot as the JSONL OpenRLHF or TRL trains from: sft.<split>.jsonl (one row per "
                        + "demonstration), preference.<split>.jsonl (every ranking as all its ordered "
                        + "chosen/rejected pairs, ties dropped, tagged with prompt_id, labeler and ranking), "
                        + "prompts.<split>.jsonl, and manifest.json (the snapshot's id and hash, counts, the "
                        + "trainers' flags)."
            })
    static final class Export implements Callable<Integer> {
        @picocli.CommandLine.Option(names = "--format", required = true, description = "openrlhf or trl")
        io.rlhf4j.trainer.data.DatasetExport.Format format;

        @picocli.CommandLine.Option(names = "--snapshot", required = true, paramLabel = "DIR")
        java.nio.file.Path snapshot;

        @picocli.CommandLine.Option(
                names = "--out",
                required = true,
                paramLabel = "DIR",
                description = "replaced atomically")
        java.nio.file.Path out;

        @Override
        public Integer call() throws Exception {
            var manifest = io.rlhf4j.trainer.data.DatasetExport.export(snapshot, out, format);
            System.out.println(manifest.toPrettyString());
            return 0;
        }
    }
}
