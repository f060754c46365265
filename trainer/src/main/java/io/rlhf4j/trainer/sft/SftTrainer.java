package io.rlhf4j.trainer.sft;

import io.rlhf4j.core.checkpoint.Layout;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.EpochOrder;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.pretrain.CausalLmStep;
import io.rlhf4j.trainer.run.RunDirectory;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import me.tongfei.progressbar.ProgressBar;

/**
 * Supervised fine-tuning on a snapshot's demonstrations: the loss counts completion tokens only;
 * AdamW with warm-up and cosine decay, residual dropout, several epochs. The result is the
 * checkpoint with the lowest validation loss (a reward model's score, once one exists, is the issue's
 * better criterion), written with {@code training_manifest.json}: parent model, data snapshot,
 * hyper-parameters, metrics. Interrupted runs resume exactly ({@link RunDirectory}).
 */
public final class SftTrainer {

    public static final String KIND = "sft";
    public static final String BEST = "best.safetensors";
    public static final String MANIFEST = Layout.TRAINING_MANIFEST;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /** What a finished run reports. */
    public record Outcome(int steps, double bestValidationLoss, int bestStep, double firstValidationLoss) {
    }

    private final SftConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;

    private Path selectionRm;

    public SftTrainer(SftConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    /** Stops (after checkpointing) once this step is reached: how tests simulate an interruption. */
    /**
     * Selects the final checkpoint by this reward model's mean score of greedy completions of the
     * validation prompts instead of by validation loss, as InstructGPT selected its SFT models.
     */
    public SftTrainer selectByReward(Path rewardModel) {
        this.selectionRm = rewardModel;
        return this;
    }

    public SftTrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    public Outcome run(Path snapshot, Path base, Path out) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(base);
        ModelConfig modelConfig = Checkpoint.readConfig(base).withResidDropout(config.dropout());
        List<SftExample> train = SftExample.load(snapshot, "train", tokenizer, modelConfig.maxPositions());
        List<SftExample> validation = SftExample.load(snapshot, "validation", tokenizer, modelConfig.maxPositions());
        if (train.isEmpty() || validation.isEmpty()) {
            throw new IllegalArgumentException(snapshot + " has no SFT " + (train.isEmpty() ? "training" : "validation")
                    + " examples (demonstrations); import or collect some, then rebuild the snapshot");
        }
        int perEpoch = (train.size() + config.batchSize() - 1) / config.batchSize();
        int steps = perEpoch * config.epochs();
        RunDirectory run = new RunDirectory(out);
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("base", base.toAbsolutePath().normalize().toString());
        configJson.put("snapshot", snapshot.toAbsolutePath().normalize().toString());
        // Part of the run's identity: a resumed run must keep selecting by the same criterion.
        configJson.put("selection", selectionRm == null ? "validation_loss"
                : selectionRm.toAbsolutePath().normalize().toString());
        OptionalInt resumeAt = run.resumableStep(configJson, KIND);
        int start = resumeAt.orElse(0);
        log.printf("SFT: %,d training and %,d validation demonstrations, %d epochs of %d steps%n", train.size(),
                validation.size(), config.epochs(), perEpoch);

        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.fromTensors(modelConfig, Checkpoint.readWeights(base), manager, base.toString());
                AdamW optimizer = config.optimizer().newAdamW(manager);
                RewardModel selector = selectionRm == null ? null : RewardModel.load(selectionRm, manager)) {
            List<int[]> selectionPrompts = validation.stream().map(SftExample::prompt).distinct().limit(32).toList();
            List<String> metrics = new ArrayList<>();
            double best = Double.POSITIVE_INFINITY;
            int bestStep = 0;
            List<Tensor> bestWeights = model.toTensors();
            double first = Double.NaN;
            if (resumeAt.isPresent()) {
                if (start >= steps) {
                    log.printf("%s already holds the finished run; nothing to do%n", out);
                    return new Outcome(steps, Double.NaN, 0, Double.NaN);
                }
                metrics.addAll(run.restore(model, optimizer, start));
                for (String line : metrics) {
                    JsonNode row = JSONL.readTree(line);
                    if (row.has("selection")) {
                        first = Double.isNaN(first) ? row.get("selection").asDouble() : first;
                        if (row.get("selection").asDouble() < best) {
                            best = row.get("selection").asDouble();
                            bestStep = row.get("step").asInt();
                        }
                    }
                }
                if (Files.exists(out.resolve(BEST))) {
                    bestWeights = List.copyOf(SafeTensors.read(out.resolve(BEST)).values());
                }
                log.printf("resuming %s at step %d of %d%n", out, start, steps);
            }
            if (start == 0) {
                ObjectNode row = JSONL.createObjectNode().put("step", 0);
                first = selection(model, validation, selector, selectionPrompts, tokenizer, row);
                best = first;
                metrics.add(JSONL.writeValueAsString(row));
            }
            CausalLmStep trainer = new CausalLmStep(model, optimizer, config.optimizer().gradClip());
            long tokens = 0;
            long started = System.nanoTime();
            try (ProgressBar bar = RunDirectory.progressBar("sft", steps, log)) {
                bar.stepTo(start);
                int step = start;
                while (step < steps && step < stopAfter) {
                    List<SftExample> batch = batch(train, step);
                    Padded p = Padded.of(batch);
                    double lr = config.learningRate(step, steps);
                    Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
                    CausalLmStep.Result r = trainer.step(p.windows, p.weights, p.keyMask, p.rows, p.seqLen, lr);
                    step++;
                    tokens += p.targets;
                    double tps = tokens / ((System.nanoTime() - started) / 1e9);
                    ObjectNode row = JSONL.createObjectNode().put("step", step).put("loss", r.loss()).put("lr", lr)
                            .put("grad_norm", r.gradNorm()).put("tokens_per_s", tps);
                    bar.stepTo(step);
                    bar.setExtraMessage(String.format(" loss %.3f  %,.0f tok/s", r.loss(), tps));
                    boolean evalNow = step % config.evalEvery() == 0 || step == steps || step % perEpoch == 0;
                    if (evalNow) {
                        double val = selection(model, validation, selector, selectionPrompts, tokenizer, row);
                        if (val < best) {
                            best = val;
                            bestStep = step;
                            bestWeights = model.toTensors();
                        }
                    }
                    metrics.add(JSONL.writeValueAsString(row));
                    if (evalNow || step == stopAfter) {
                        List<Tensor> keep = bestWeights;
                        run.save(model, optimizer, tokenizer, KIND, step, steps, configJson, metrics,
                                dir -> SafeTensors.write(dir.resolve(BEST), keep, Map.of()));
                    }
                }
                if (step < steps) {
                    return new Outcome(step, best, bestStep, first);
                }
            }
            // The result is the best checkpoint, with its lineage.
            model.load(toMap(bestWeights));
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("kind", KIND);
            manifest.put("parent", base.toAbsolutePath().normalize().toString());
            manifest.put("parent_weights_sha256", io.rlhf4j.core.io.Checksums.sha256(base.resolve(Checkpoint.WEIGHTS)));
            manifest.put("data_snapshot", snapshot.toAbsolutePath().normalize().toString());
            manifest.set("hyper_parameters", JSON.valueToTree(config));
            ObjectNode m = manifest.putObject("metrics");
            m.put("selected_by", selector == null ? "validation_loss" : "reward_model");
            if (selector != null) {
                manifest.put("selection_reward_model", selectionRm.toAbsolutePath().normalize().toString());
            }
            m.put(selector == null ? "validation_loss_before" : "validation_reward_before", selector == null ? first : -first);
            m.put(selector == null ? "validation_loss_best" : "validation_reward_best", selector == null ? best : -best);
            m.put("best_step", bestStep);
            m.put("steps", steps);
            m.put("train_examples", train.size());
            m.put("validation_examples", validation.size());
            run.save(model, null, tokenizer, KIND, steps, steps, configJson, metrics,
                    dir -> JSON.writeValue(dir.resolve(MANIFEST).toFile(), manifest));
            log.printf("SFT done: %s %.4f -> %.4f (best at step %d); checkpoint in %s%n",
                    selector == null ? "validation loss" : "validation reward", selector == null ? first : -first,
                    selector == null ? best : -best,
                    bestStep, out);
            return new Outcome(steps, best, bestStep, first);
        }
    }

    private List<SftExample> batch(List<SftExample> train, int step) {
        List<SftExample> out = new ArrayList<>();
        for (int i : EpochOrder.batch(train.size(), config.batchSize(), config.seed(), step)) {
            out.add(train.get(i));
        }
        return out;
    }

    /**
     * The criterion the best checkpoint minimises, recorded in {@code row}: validation loss, or minus the
     * selection reward model's mean score of greedy completions of the validation prompts.
     */
    private double selection(Decoder model, List<SftExample> validation, RewardModel selector,
            List<int[]> prompts, Tokenizer tokenizer, ObjectNode row) {
        double loss = validationLoss(model, validation);
        row.put("val_loss", loss);
        if (selector == null) {
            row.put("selection", loss);
            return loss;
        }
        List<io.rlhf4j.trainer.generate.Generation> gens = new io.rlhf4j.trainer.generate.Generator(model, tokenizer)
                .generate(prompts, io.rlhf4j.core.sampling.SamplingParams.greedy(32));
        List<int[]> seqs = new ArrayList<>();
        for (int i = 0; i < gens.size(); i++) {
            seqs.add(gens.get(i).sequence(prompts.get(i), tokenizer.eosId()));
        }
        double sum = 0;
        for (float r : selector.scores(seqs)) {
            sum += r;
        }
        double reward = sum / seqs.size();
        row.put("val_reward", reward);
        row.put("selection", -reward);
        return -reward;
    }

    /** Token-weighted mean loss over all validation demonstrations. */
    private double validationLoss(Decoder model, List<SftExample> validation) {
        double sum = 0;
        long count = 0;
        for (int i = 0; i < validation.size(); i += config.batchSize()) {
            Padded p = Padded.of(validation.subList(i, Math.min(validation.size(), i + config.batchSize())));
            sum += CausalLmStep.evaluate(model, p.windows, p.weights, p.keyMask, p.rows, p.seqLen) * p.targets;
            count += p.targets;
        }
        return sum / count;
    }

    private static Map<String, Tensor> toMap(List<Tensor> tensors) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        tensors.forEach(t -> m.put(t.name(), t));
        return m;
    }

    /** Right-padded windows with completion-only weights. */
    private record Padded(long[] windows, float[] weights, long[] keyMask, int rows, int seqLen, long targets) {
        static Padded of(List<SftExample> batch) {
            int rows = batch.size();
            int len = batch.stream().mapToInt(SftExample::length).max().orElseThrow();
            int seq = len - 1;
            long[] windows = new long[rows * len];
            float[] weights = new float[rows * seq];
            long[] mask = new long[rows * seq];
            long targets = 0;
            for (int r = 0; r < rows; r++) {
                SftExample e = batch.get(r);
                int[] t = e.tokens();
                for (int j = 0; j < t.length; j++) {
                    windows[r * len + j] = t[j];
                }
                for (int j = 0; j < seq; j++) {
                    mask[r * seq + j] = j < t.length ? 1 : 0;
                    // target j is token j + 1: counted when it belongs to the completion
                    if (j + 1 >= e.prompt().length && j + 1 < t.length) {
                        weights[r * seq + j] = 1;
                        targets++;
                    }
                }
            }
            return new Padded(windows, weights, mask, rows, seq, targets);
        }
    }
}
