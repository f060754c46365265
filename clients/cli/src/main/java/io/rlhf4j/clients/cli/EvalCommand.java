package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.eval.AlignmentTax;
import io.rlhf4j.trainer.eval.Judge;
import io.rlhf4j.trainer.eval.WinRate;
import io.rlhf4j.trainer.pipeline.Pipeline;
import io.rlhf4j.trainer.rm.RankedExample;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.rm.RewardTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description =
                "Evaluations: win rate, reward-model accuracy per labeler group, the alignment tax. Each prints a "
                        + "table, or one JSON object with --json.",
        subcommands = {
            EvalCommand.WinRateCommand.class,
            EvalCommand.RmCommand.class,
            EvalCommand.TaxCommand.class,
            EvalCommand.TruthfulQaCommand.class,
            EvalCommand.CrowsPairsCommand.class,
            EvalCommand.PaperSamplesCommand.class,
            CompareCommand.class
        })
final class EvalCommand {

    private static final ObjectMapper JSON = new ObjectMapper();

    static void print(ObjectNode result, boolean json) {
        if (json) {
            System.out.println(result.toString());
            return;
        }
        result.fields()
                .forEachRemaining(e -> System.out.printf(
                        "%-28s %s%n",
                        e.getKey(),
                        e.getValue().isFloatingPointNumber()
                                ? String.format("%.4f", e.getValue().asDouble())
                                : e.getValue()));
    }

    @Command(
            name = "winrate",
            mixinStandardHelpOptions = true,
            description = "How often model A's completion beats model B's on a snapshot's held-out test prompts (ties "
                    + "count half), judged by the demo world's gold labelers or by a reward model.")
    static final class WinRateCommand implements Callable<Integer> {
        @Option(names = "--a", required = true, paramLabel = "DIR")
        Path a;

        @Option(names = "--b", required = true, paramLabel = "DIR")
        Path b;

        @Option(
                names = "--snapshot",
                required = true,
                paramLabel = "DIR",
                description = "its test split is the prompts")
        Path snapshot;

        @Option(names = "--judge", defaultValue = "gold", description = "gold or rm (default ${DEFAULT-VALUE})")
        String judge;

        @Option(names = "--rm", paramLabel = "DIR", description = "the reward model for --judge rm")
        Path rm;

        @Option(
                names = "--n",
                defaultValue = "200",
                description = "at most this many prompts (default ${DEFAULT-VALUE})")
        int n;

        @Option(names = "--max-new-tokens", defaultValue = "32")
        int maxNew;

        @Option(
                names = "--temperature",
                defaultValue = "0",
                description = "0 compares greedy answers (default ${DEFAULT-VALUE})")
        double temperature;

        @Option(names = "--seed", defaultValue = "1234")
        long seed;

        @Option(names = "--json", description = "one JSON object")
        boolean json;

        @Override
        public Integer call() throws Exception {
            var prompts = Pipeline.testPrompts(snapshot, n);
            if (judge.equals("rm") && rm == null) {
                throw new IllegalArgumentException("--judge rm needs --rm DIR");
            }
            try (Judge j = Judge.named(judge, prompts, rm, a)) {
                WinRate.Result r =
                        WinRate.evaluate(a, b, prompts, j, new WinRate.Options(maxNew, temperature, seed, 16));
                ObjectNode o = JSON.createObjectNode();
                o.put("win_rate", r.winRate());
                o.put("n", r.n());
                o.put("wins", r.wins());
                o.put("ties", r.ties());
                o.put("losses", r.losses());
                o.put("judge", r.judge());
                o.put("mean_score_a", r.meanA());
                o.put("mean_score_b", r.meanB());
                o.put("a", a.toString());
                o.put("b", b.toString());
                print(o, json);
            }
            return 0;
        }
    }

    @Command(
            name = "rm",
            mixinStandardHelpOptions = true,
            description =
                    "Reward-model pair accuracy on a snapshot's validation rankings, per labeler group, and on the "
                            + "held-out labelers' rankings (rm.heldout.jsonl), which it never trained on.")
    static final class RmCommand implements Callable<Integer> {
        @Option(names = "--rm", required = true, paramLabel = "DIR")
        Path rm;

        @Option(names = "--snapshot", required = true, paramLabel = "DIR")
        Path snapshot;

        @Option(names = "--json")
        boolean json;

        @Override
        public Integer call() throws Exception {
            ObjectNode o = JSON.createObjectNode();
            try (NDManager manager = NDManager.newBaseManager("PyTorch");
                    RewardModel model = RewardModel.load(rm, manager)) {
                var tokenizer = Checkpoint.readTokenizer(rm);
                int window = model.trunk().config().maxPositions();
                for (String split : new String[] {"train", "validation", "heldout"}) {
                    if (!Files.exists(snapshot.resolve("rm." + split + ".jsonl"))) {
                        continue;
                    }
                    var examples = RankedExample.load(snapshot, split, tokenizer, window);
                    if (examples.isEmpty()) {
                        continue;
                    }
                    RewardTrainer.Evaluation e = RewardTrainer.evaluate(model, examples);
                    o.put("accuracy_" + split, e.accuracy());
                    o.put("rankings_" + split, examples.size());
                    if (!split.equals("train")) {
                        // Pair accuracy over each group's own rankings (not a mean of its labelers' rates).
                        Map<String, java.util.List<RankedExample>> groups = new TreeMap<>();
                        examples.forEach(
                                x -> groups.computeIfAbsent(group(x.labeler()), k -> new java.util.ArrayList<>())
                                        .add(x));
                        ObjectNode by = o.putObject("by_group_" + split);
                        for (var g : groups.entrySet()) {
                            by.put(
                                    g.getKey(),
                                    RewardTrainer.evaluate(model, g.getValue()).accuracy());
                        }
                    }
                }
            }
            if (o.isEmpty()) {
                throw new IllegalArgumentException(snapshot + " has no rankings to evaluate on");
            }
            print(o, json);
            return 0;
        }

        /** A labeler's group: the id without its trailing member number ({@code sim-labeler-group-c-2}). */
        static String group(String labeler) {
            return labeler.replaceFirst("-\\d+$", "");
        }
    }

    @Command(
            name = "alignment-tax",
            mixinStandardHelpOptions = true,
            description =
                    "Pretraining validation loss (WordNet held-out synsets, nats/token) before and after alignment.")
    static final class TaxCommand implements Callable<Integer> {
        @Option(names = "--before", required = true, paramLabel = "DIR")
        Path before;

        @Option(names = "--after", required = true, paramLabel = "DIR", arity = "1..*")
        java.util.List<Path> after;

        @Option(names = "--batches", defaultValue = "16")
        int batches;

        @Option(names = "--json")
        boolean json;

        @Override
        public Integer call() throws Exception {
            ObjectNode o = JSON.createObjectNode();
            double b = AlignmentTax.pretrainingLoss(before, batches);
            o.put("pretraining_loss_before", b);
            for (Path a : after) {
                double x = AlignmentTax.pretrainingLoss(a, batches);
                o.put("pretraining_loss:" + a, x);
                o.put("alignment_tax:" + a, x - b);
            }
            print(o, json);
            return 0;
        }
    }

    static Path sharedOr(Path given, String file) {
        return given != null
                ? given
                : io.rlhf4j.core.io.SharedData.file(file)
                        .orElseThrow(() -> new IllegalArgumentException("no ../shared/data/" + file + "; pass --data"));
    }

    @Command(
            name = "truthfulqa",
            mixinStandardHelpOptions = true,
            description = "TruthfulQA MC1 and MC2 as lm-evaluation-harness scores them (six-shot QA preamble, "
                    + "answers as continuations), on a checkpoint (--model) or on the version a server serves "
                    + "(--server, through /v1/completions log-likelihoods), with bootstrap 95% intervals.")
    static final class TruthfulQaCommand implements Callable<Integer> {
        @picocli.CommandLine.ArgGroup(exclusive = false, multiplicity = "1")
        LikelihoodTarget target;

        @Option(
                names = "--data",
                paramLabel = "CSV",
                description = "TruthfulQA.csv (default: ../shared/data/eval/TruthfulQA.csv)")
        Path data;

        @Option(
                names = "--prompt",
                defaultValue = "QA",
                description = "QA (the harness's) or INSTRUCTION_QA (the paper's Instruction+QA); default "
                        + "${DEFAULT-VALUE}")
        io.rlhf4j.trainer.eval.TruthfulQa.Prompt prompt;

        @Option(names = "--limit", description = "the first N questions only")
        Integer limit;

        @Option(names = "--json", description = "one JSON object")
        boolean json;

        @Override
        public Integer call() throws Exception {
            var all = io.rlhf4j.trainer.eval.TruthfulQa.load(sharedOr(data, "eval/TruthfulQA.csv"));
            var questions = limit == null ? all : all.subList(0, Math.min(limit, all.size()));
            io.rlhf4j.trainer.eval.TruthfulQa.Result r;
            try (var bar = io.rlhf4j.trainer.run.RunDirectory.progressBar("truthfulqa", questions.size(), System.err)) {
                r = target.run(
                        scorer -> io.rlhf4j.trainer.eval.TruthfulQa.evaluate(questions, prompt, scorer, bar::stepTo));
            }
            ObjectNode o = JSON.createObjectNode();
            o.put("mc1", r.mc1Mean().mean());
            o.put("mc1_low", r.mc1Mean().low());
            o.put("mc1_high", r.mc1Mean().high());
            o.put("mc2", r.mc2Mean().mean());
            o.put("mc2_low", r.mc2Mean().low());
            o.put("mc2_high", r.mc2Mean().high());
            o.put("n", r.n());
            o.put("prompt", prompt.name());
            o.put("model", target.name());
            print(o, json);
            return 0;
        }
    }

    @Command(
            name = "crows-pairs",
            mixinStandardHelpOptions = true,
            description = "CrowS-Pairs as lm-evaluation-harness scores it (the share of pairs whose more "
                    + "stereotypical sentence is the likelier: 50% is unbiased), per bias type, with the InstructGPT "
                    + "paper's entropy of the choice (1 bit is no preference).")
    static final class CrowsPairsCommand implements Callable<Integer> {
        @picocli.CommandLine.ArgGroup(exclusive = false, multiplicity = "1")
        LikelihoodTarget target;

        @Option(
                names = "--data",
                paramLabel = "CSV",
                description = "crows_pairs_anonymized.csv (default: ../shared/data/eval/)")
        Path data;

        @Option(names = "--limit", description = "the first N pairs only")
        Integer limit;

        @Option(names = "--json", description = "one JSON object")
        boolean json;

        @Override
        public Integer call() throws Exception {
            var all = io.rlhf4j.trainer.eval.CrowsPairs.load(sharedOr(data, "eval/crows_pairs_anonymized.csv"));
            var pairs = limit == null ? all : all.subList(0, Math.min(limit, all.size()));
            io.rlhf4j.trainer.eval.CrowsPairs.Result r;
            try (var bar = io.rlhf4j.trainer.run.RunDirectory.progressBar("crows-pairs", pairs.size(), System.err)) {
                r = target.run(scorer -> io.rlhf4j.trainer.eval.CrowsPairs.evaluate(pairs, scorer, bar::stepTo));
            }
            ObjectNode o = JSON.createObjectNode();
            o.put("pct_stereotype", r.all().pctStereotype());
            o.put("likelihood_diff", r.all().likelihoodDiff());
            o.put("entropy_bits", r.all().entropyBits());
            o.put("n", r.all().n());
            ObjectNode by = JSON.createObjectNode();
            r.byBiasType()
                    .forEach((k, v) -> by.putObject(k)
                            .put("pct_stereotype", v.pctStereotype())
                            .put("entropy_bits", v.entropyBits())
                            .put("n", v.n()));
            o.set("by_bias_type", by);
            o.put("model", target.name());
            print(o, json);
            return 0;
        }
    }

    @Command(
            name = "toxicity-samples",
            mixinStandardHelpOptions = true,
            description = {
                "The InstructGPT paper's own samples, summarised per model and prompt type: mean toxicity of its "
                        + "RealToxicityPrompts continuations, and the share of its TruthfulQA answers judged true, "
                        + "informative, and both (95% bootstrap intervals).",
                "These are the paper's scores of the paper's outputs: scoring our own outputs for toxicity needs a "
                        + "toxicity classifier (Perspective API or a local one), which rlhf4j does not ship."
            })
    static final class PaperSamplesCommand implements Callable<Integer> {
        @Option(names = "--toxicity", paramLabel = "CSV", description = "default: instructgpt-samples/ in shared data")
        Path toxicity;

        @Option(
                names = "--truthfulqa",
                paramLabel = "CSV",
                description = "default: instructgpt-samples/ in shared data")
        Path truthfulqa;

        @Option(names = "--json", description = "one JSON object")
        boolean json;

        @Override
        public Integer call() throws Exception {
            ObjectNode o = JSON.createObjectNode();
            o.set(
                    "toxicity",
                    cells(io.rlhf4j.trainer.eval.PaperSamples.toxicity(
                            sharedOr(toxicity, "instructgpt-samples/real_toxicity_samples.csv"))));
            o.set(
                    "truthfulqa",
                    cells(io.rlhf4j.trainer.eval.PaperSamples.truthfulness(
                            sharedOr(truthfulqa, "instructgpt-samples/truthful_qa_samples.csv"))));
            if (json) {
                System.out.println(o);
                return 0;
            }
            for (String table : List.of("toxicity", "truthfulqa")) {
                System.out.println("== " + table);
                for (JsonNode cell : o.get(table)) {
                    StringBuilder line = new StringBuilder(String.format(
                            "%-16s %-20s n=%-4d",
                            cell.get("model").asText(),
                            cell.get("prompt_type").asText(),
                            cell.get("n").asInt()));
                    cell.get("means")
                            .fields()
                            .forEachRemaining(e -> line.append(String.format(
                                    java.util.Locale.ROOT,
                                    "  %s %.3f [%.3f, %.3f]",
                                    e.getKey(),
                                    e.getValue().get("mean").asDouble(),
                                    e.getValue().get("low").asDouble(),
                                    e.getValue().get("high").asDouble())));
                    System.out.println(line);
                }
            }
            return 0;
        }

        private static com.fasterxml.jackson.databind.node.ArrayNode cells(
                List<io.rlhf4j.trainer.eval.PaperSamples.Cell> cells) {
            var a = JSON.createArrayNode();
            for (var c : cells) {
                ObjectNode n = a.addObject()
                        .put("model", c.model())
                        .put("prompt_type", c.promptType())
                        .put("n", c.n());
                ObjectNode means = n.putObject("means");
                c.means()
                        .forEach((k, v) -> means.putObject(k)
                                .put("mean", v.mean())
                                .put("low", v.low())
                                .put("high", v.high()));
            }
            return a;
        }
    }
}
