package io.rlhf4j.trainer.pretrain;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.optim.AdamW;
import io.rlhf4j.trainer.run.RunDirectory;
import io.rlhf4j.trainer.run.Stage;
import io.rlhf4j.trainer.run.StageRunner;
import io.rlhf4j.trainer.run.StageState;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Trains a Llama-family model from scratch with its own byte-level BPE tokenizer.
 *
 * <p>The output directory is a {@link RunDirectory}: a loadable checkpoint at every moment, resumed
 * when run again. Because batches depend only on (seed, step) and dropout is reseeded per step, a
 * resumed run ends where an uninterrupted one does.
 */
public final class Pretrainer {

    public static final String KIND = "pretrain";
    public static final String METRICS = RunDirectory.METRICS;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    /** Summary of a finished run. */
    public record Outcome(int steps, double trainLoss, double validationLoss, double tokensPerSecond) {}

    private final PretrainConfig config;
    private final Path out;
    private final PrintStream log;
    private int stopAfter = Integer.MAX_VALUE;

    public Pretrainer(PretrainConfig config, Path out, PrintStream log) {
        this.config = config;
        this.out = out;
        this.log = log;
    }

    /** Stops (after checkpointing) once this step is reached: how tests simulate an interruption. */
    public Pretrainer stopAfter(int step) {
        this.stopAfter = step;
        return this;
    }

    public Outcome run(WordNetCorpus.Split corpus) throws IOException {
        StageRunner runner = new StageRunner(out, KIND, JSON.valueToTree(config), config.steps(), "step", log);
        int startStep = runner.state().start();
        if (runner.finished(" (" + startStep + " steps)")) {
            return finished(startStep);
        }
        Tokenizer tokenizer;
        if (runner.state().resumed()) {
            tokenizer = Checkpoint.readTokenizer(out);
        } else {
            log.printf(
                    "training a %d-token byte-level BPE tokenizer on %,d documents%n",
                    config.vocabSize(), corpus.train().size());
            Path tmpTok = Files.createTempDirectory("rlhf4j-bpe");
            tokenizer = new ByteLevelBpeTrainer(config.vocabSize()).train(corpus.train(), tmpTok);
        }
        TokenStream train = TokenStream.of(corpus.train(), tokenizer);
        TokenStream validation = TokenStream.of(corpus.validation(), tokenizer);
        log.printf("corpus: %,d training tokens, %,d validation tokens%n", train.size(), validation.size());

        ModelConfig modelConfig = config.modelConfig(tokenizer.bosId(), tokenizer.eosId());
        try (NDManager manager = TrainingDevice.newManager();
                Decoder model = Decoder.initialise(modelConfig, manager, config.seed());
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            log.printf(
                    "model: %,d parameters (%s)%n",
                    modelConfig.parameterCount(), modelConfig.family().modelType());
            Training training = new Training(model, optimizer, tokenizer, train, validation);
            runner.train("pretrain", training, stopAfter);
            double seconds = (System.nanoTime() - training.started) / 1e9;
            double lastVal = training.lastVal;
            if (Double.isNaN(lastVal)) {
                lastVal = validationLoss(model, validation);
            }
            return new Outcome(
                    Math.min(config.steps(), stopAfter),
                    training.lastLoss,
                    lastVal,
                    training.tokens / Math.max(seconds, 1e-9));
        }
    }

    /** Next-token prediction on random windows of the corpus: batch k depends only on (seed, k). */
    private final class Training implements Stage {
        private final Decoder model;
        private final AdamW optimizer;
        private final Tokenizer tokenizer;
        private final TokenStream train;
        private final TokenStream validation;
        private CausalLmStep trainer;
        long started;
        long tokens;
        double lastLoss = Double.NaN;
        double lastVal = Double.NaN;

        Training(Decoder model, AdamW optimizer, Tokenizer tokenizer, TokenStream train, TokenStream validation) {
            this.model = model;
            this.optimizer = optimizer;
            this.tokenizer = tokenizer;
            this.train = train;
            this.validation = validation;
        }

        @Override
        public List<String> resume(RunDirectory run, int step) throws IOException {
            return run.restore(model, optimizer, step);
        }

        @Override
        public List<String> begin() {
            return List.of();
        }

        @Override
        public void beforeFirstStep() {
            trainer = new CausalLmStep(model, optimizer, config.optimizer().gradClip());
            started = System.nanoTime();
        }

        @Override
        public ObjectNode step(int step) {
            int rows = config.batchSize();
            int seq = config.seqLen();
            double lr = config.learningRate(step);
            long[] batch = train.randomBatch(config.seed(), step, rows, seq);
            // Dropout draws from PyTorch's generator: reseed it per step so a resumed run matches.
            Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
            CausalLmStep.Result r = trainer.step(batch, rows, seq, lr);
            int done = step + 1;
            tokens += (long) rows * seq;
            lastLoss = r.loss();
            double tps = tokens / ((System.nanoTime() - started) / 1e9);
            ObjectNode row = JSONL.createObjectNode();
            row.put("step", done)
                    .put("loss", r.loss())
                    .put("lr", lr)
                    .put("grad_norm", r.gradNorm())
                    .put("tokens_per_s", tps);
            if (done % config.evalEvery() == 0 || done == config.steps()) {
                lastVal = validationLoss(model, validation);
                row.put("val_loss", lastVal);
            }
            return row;
        }

        @Override
        public String progress(ObjectNode row) {
            double loss = row.get("loss").asDouble();
            double tps = row.get("tokens_per_s").asDouble();
            return row.has("val_loss")
                    ? String.format(
                            " loss %.3f  val %.3f  %,.0f tok/s",
                            loss, row.get("val_loss").asDouble(), tps)
                    : String.format(" loss %.3f  %,.0f tok/s", loss, tps);
        }

        @Override
        public boolean checkpointAt(int done) {
            return done % config.checkpointEvery() == 0 || done == config.steps();
        }

        @Override
        public void save(StageState state, int done, List<String> metrics) throws IOException {
            state.save(model.config(), model.toTensors(), optimizer, tokenizer, done, metrics, null);
        }
    }

    private Outcome finished(int steps) throws IOException {
        double loss = Double.NaN;
        double val = Double.NaN;
        for (String line : new RunDirectory(out).metricsUpTo(steps)) {
            {
                var row = JSONL.readTree(line);
                loss = row.path("loss").asDouble(loss);
                val = row.path("val_loss").asDouble(val);
            }
        }
        return new Outcome(steps, loss, val, 0);
    }

    private double validationLoss(Decoder model, TokenStream validation) {
        int rows = config.batchSize();
        int batches = Math.min(config.evalBatches(), Math.max(1, validation.windowsAvailable(config.seqLen()) / rows));
        double sum = 0;
        for (int b = 0; b < batches; b++) {
            sum += CausalLmStep.evaluate(
                    model, validation.sequentialBatch(b, rows, config.seqLen()), rows, config.seqLen());
        }
        return sum / batches;
    }
}
