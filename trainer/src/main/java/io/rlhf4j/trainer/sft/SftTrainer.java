package io.rlhf4j.trainer.sft;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.EpochOrder;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.pretrain.CausalLmStep;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.run.MemoryEstimate;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.run.Stage;
import io.rlhf4j.trainer.run.StageRunner;
import io.rlhf4j.trainer.run.StageState;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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

    /** What a run reports; {@code memory} is the estimate it printed (null: an earlier run had finished). */
    public record Outcome(
            int steps, double bestValidationLoss, int bestStep, double firstValidationLoss, MemoryEstimate memory) {}

    private final SftConfig config;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;
    private LoraConfig lora;

    private Path selectionRm;

    public SftTrainer(SftConfig config, PrintStream log) {
        this.config = config;
        this.log = log;
    }

    /**
     * Selects the final checkpoint by this reward model's mean score of greedy completions of the
     * validation prompts instead of by validation loss, as InstructGPT selected its SFT models.
     */
    public SftTrainer selectByReward(Path rewardModel) {
        this.selectionRm = rewardModel;
        return this;
    }

    /**
     * Trains a LoRA adapter on the frozen base instead of every weight (null: full fine-tuning). The
     * checkpoint holds the merged weights, which every later stage and the export take as they are, and
     * the adapter beside them in PEFT's layout.
     */
    public SftTrainer withLora(LoraConfig lora) {
        this.lora = lora;
        return this;
    }

    /** Stops (after checkpointing) once this step is reached: how tests simulate an interruption. */
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
        ObjectNode configJson = JSON.valueToTree(config);
        configJson.put("base", StageRunner.absolute(base));
        configJson.put("snapshot", StageRunner.absolute(snapshot));
        // Part of the run's identity: a resumed run must keep selecting by the same criterion.
        configJson.put("selection", selectionRm == null ? "validation_loss" : StageRunner.absolute(selectionRm));
        FineTune.record(configJson, lora);
        StageRunner runner = new StageRunner(out, KIND, configJson, steps, "step", log);
        log.printf(
                "SFT: %,d training and %,d validation demonstrations, %d epochs of %d steps%n",
                train.size(), validation.size(), config.epochs(), perEpoch);
        if (runner.finished("")) {
            return new Outcome(steps, Double.NaN, 0, Double.NaN, null);
        }
        int longest = train.stream().mapToInt(SftExample::length).max().orElseThrow();
        // A full run's checkpoint saves the model and the best weights so far.
        MemoryEstimate memory = MemoryEstimate.of("SFT", modelConfig)
                .frozen(selectionRm == null ? 0 : 1)
                .activations(config.batchSize(), longest, true)
                .trained(lora, 0, 2)
                .build()
                .require();
        log.println(memory.describe());
        try (NDManager manager = TrainingDevice.newManager();
                Decoder decoder =
                        Decoder.fromTensors(modelConfig, Checkpoint.readWeights(base), manager, base.toString());
                AdamW optimizer = config.optimizer().newAdamW(manager);
                RewardModel selector = selectionRm == null ? null : RewardModel.load(selectionRm, manager)) {
            FineTune weights = FineTune.of(lora, decoder, config.seed(), base, manager);
            Training training =
                    new Training(weights, optimizer, selector, train, validation, steps, perEpoch, tokenizer);
            StageRunner.Progress progress = runner.train("sft", training, stopAfter);
            double best = training.best;
            int bestStep = training.bestStep;
            double first = training.first;
            if (progress.step() < steps) {
                return new Outcome(progress.step(), best, bestStep, first, memory);
            }
            // The result is the best checkpoint, with its lineage.
            weights.load(toMap(training.bestWeights));
            ObjectNode manifest = StageRunner.manifest(KIND, base, List.of(), snapshot, config);
            FineTune.record(manifest, lora);
            ObjectNode m = manifest.putObject("metrics");
            m.put("selected_by", selector == null ? "validation_loss" : "reward_model");
            if (selector != null) {
                manifest.put("selection_reward_model", StageRunner.absolute(selectionRm));
            }
            m.put(
                    selector == null ? "validation_loss_before" : "validation_reward_before",
                    selector == null ? first : -first);
            m.put(
                    selector == null ? "validation_loss_best" : "validation_reward_best",
                    selector == null ? best : -best);
            m.put("best_step", bestStep);
            m.put("steps", steps);
            m.put("train_examples", train.size());
            m.put("validation_examples", validation.size());
            weights.saveFinal(runner.state(), tokenizer, progress.metrics(), manifest);
            log.printf(
                    "SFT done: %s %.4f -> %.4f (best at step %d); checkpoint in %s%n",
                    selector == null ? "validation loss" : "validation reward",
                    selector == null ? first : -first,
                    selector == null ? best : -best,
                    bestStep,
                    out);
            return new Outcome(steps, best, bestStep, first, memory);
        }
    }

    /**
     * SFT's steps: completion-only next-token loss, dropout reseeded per step; evaluates at each
     * {@code eval_every}, each epoch's end and the last step, keeping the best weights so far.
     */
    private final class Training implements Stage {
        private final FineTune weights;
        private final Decoder model;
        private final AdamW optimizer;
        private final RewardModel selector;
        private final List<SftExample> train;
        private final List<SftExample> validation;
        private final int steps;
        private final int perEpoch;
        private final Tokenizer tokenizer;
        private final List<int[]> selectionPrompts;
        private CausalLmStep trainer;
        private long tokens;
        private long positions;
        private long started;
        double best = Double.POSITIVE_INFINITY;
        int bestStep;
        List<Tensor> bestWeights;
        double first = Double.NaN;

        Training(
                FineTune weights,
                AdamW optimizer,
                RewardModel selector,
                List<SftExample> train,
                List<SftExample> validation,
                int steps,
                int perEpoch,
                Tokenizer tokenizer) {
            this.weights = weights;
            this.model = weights.model();
            this.optimizer = optimizer;
            this.selector = selector;
            this.train = train;
            this.validation = validation;
            this.steps = steps;
            this.perEpoch = perEpoch;
            this.tokenizer = tokenizer;
            this.selectionPrompts = validation.stream()
                    .map(SftExample::prompt)
                    .distinct()
                    .limit(32)
                    .toList();
            this.bestWeights = weights.trained();
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            List<String> metrics = weights.restore(run, optimizer, step);
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
            if (Files.exists(run.path().resolve(BEST))) {
                bestWeights =
                        List.copyOf(SafeTensors.read(run.path().resolve(BEST)).values());
            }
            return metrics;
        }

        @Override
        public List<String> begin() throws IOException {
            ObjectNode row = JSONL.createObjectNode().put("step", 0);
            first = selection(model, validation, selector, selectionPrompts, tokenizer, row);
            best = first;
            return List.of(JSONL.writeValueAsString(row));
        }

        @Override
        public void beforeFirstStep() {
            trainer = new CausalLmStep(model, optimizer, config.optimizer().gradClip());
            started = System.nanoTime();
        }

        @Override
        public ObjectNode step(int step) {
            Padded p = Padded.of(batch(train, step));
            double lr = config.learningRate(step, steps);
            Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
            CausalLmStep.Result r = trainer.step(p.windows, p.weights, p.keyMask, p.rows, p.seqLen, lr);
            int done = step + 1;
            tokens += p.targets;
            positions += (long) p.rows * p.seqLen;
            double seconds = (System.nanoTime() - started) / 1e9;
            double tps = tokens / seconds;
            ObjectNode row = JSONL.createObjectNode()
                    .put("step", done)
                    .put("loss", r.loss())
                    .put("lr", lr)
                    .put("grad_norm", r.gradNorm())
                    .put("tokens_per_s", tps)
                    // every padded position goes through forward and backward: what MFU counts
                    .put("sequence_tokens_per_s", positions / seconds);
            if (checkpointAt(done)) {
                double val = selection(model, validation, selector, selectionPrompts, tokenizer, row);
                if (val < best) {
                    best = val;
                    bestStep = done;
                    bestWeights = weights.trained();
                }
            }
            return row;
        }

        @Override
        public String progress(ObjectNode row) {
            return String.format(
                    " loss %.3f  %,.0f tok/s",
                    row.get("loss").asDouble(), row.get("tokens_per_s").asDouble());
        }

        // The run checkpoints where it evaluates.
        @Override
        public boolean checkpointAt(int done) {
            return done % config.evalEvery() == 0 || done == steps || done % perEpoch == 0;
        }

        @Override
        public void save(StageState state, int done, List<String> metrics) throws IOException {
            List<Tensor> keep = bestWeights;
            state.save(model.config(), model.toTensors(), optimizer, tokenizer, done, metrics, dir -> {
                SafeTensors.write(dir.resolve(BEST), keep, Map.of());
                weights.writeAdapter(dir);
            });
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
    private double selection(
            Decoder model,
            List<SftExample> validation,
            RewardModel selector,
            List<int[]> prompts,
            Tokenizer tokenizer,
            ObjectNode row) {
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
