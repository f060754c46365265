package io.rlhf4j.trainer.pretrain;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
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
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import me.tongfei.progressbar.ProgressBar;

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
    public record Outcome(int steps, double trainLoss, double validationLoss, double tokensPerSecond) {
    }

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
        RunDirectory run = new RunDirectory(out);
        JsonNode configJson = JSON.valueToTree(config);
        OptionalInt resumeAt = run.resumableStep(configJson, KIND);
        Tokenizer tokenizer;
        int startStep = resumeAt.orElse(0);
        boolean resume = resumeAt.isPresent();
        if (resume) {
            if (startStep >= config.steps()) {
                log.printf("%s already holds the finished run (%d steps); nothing to do%n", out, startStep);
                return finished(startStep);
            }
            tokenizer = Checkpoint.readTokenizer(out);
            log.printf("resuming %s at step %d of %d%n", out, startStep, config.steps());
        } else {
            log.printf("training a %d-token byte-level BPE tokenizer on %,d documents%n", config.vocabSize(),
                    corpus.train().size());
            Path tmpTok = Files.createTempDirectory("rlhf4j-bpe");
            tokenizer = new ByteLevelBpeTrainer(config.vocabSize()).train(corpus.train(), tmpTok);
        }
        TokenStream train = TokenStream.of(corpus.train(), tokenizer);
        TokenStream validation = TokenStream.of(corpus.validation(), tokenizer);
        log.printf("corpus: %,d training tokens, %,d validation tokens%n", train.size(), validation.size());

        ModelConfig modelConfig = config.modelConfig(tokenizer.bosId(), tokenizer.eosId());
        List<String> metrics = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.initialise(modelConfig, manager, config.seed());
                AdamW optimizer = config.optimizer().newAdamW(manager)) {
            if (resume) {
                metrics.addAll(run.restore(model, optimizer, startStep));
            }
            log.printf("model: %,d parameters (%s)%n", modelConfig.parameterCount(), modelConfig.family().modelType());
            CausalLmStep trainer = new CausalLmStep(model, optimizer, config.optimizer().gradClip());
            int rows = config.batchSize();
            int seq = config.seqLen();
            double lastLoss = Double.NaN;
            double lastVal = Double.NaN;
            long tokens = 0;
            long started = System.nanoTime();
            try (ProgressBar bar = RunDirectory.progressBar("pretrain", config.steps(), log)) {
                bar.stepTo(startStep);
                int step = startStep;
                while (step < config.steps() && step < stopAfter) {
                    double lr = config.learningRate(step);
                    long[] batch = train.randomBatch(config.seed(), step, rows, seq);
                    // Dropout draws from PyTorch's generator: reseed it per step so a resumed run matches.
                    ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed((int) (config.seed() * 1_000_003L + step));
                    CausalLmStep.Result r = trainer.step(batch, rows, seq, lr);
                    step++;
                    tokens += (long) rows * seq;
                    lastLoss = r.loss();
                    double tps = tokens / ((System.nanoTime() - started) / 1e9);
                    bar.stepTo(step);
                    bar.setExtraMessage(String.format(" loss %.3f  %,.0f tok/s", lastLoss, tps));
                    boolean evalNow = step % config.evalEvery() == 0 || step == config.steps();
                    ObjectNode row = JSONL.createObjectNode();
                    row.put("step", step).put("loss", r.loss()).put("lr", lr).put("grad_norm", r.gradNorm())
                            .put("tokens_per_s", tps);
                    if (evalNow) {
                        lastVal = validationLoss(model, validation);
                        row.put("val_loss", lastVal);
                        bar.setExtraMessage(String.format(" loss %.3f  val %.3f  %,.0f tok/s", lastLoss, lastVal, tps));
                    }
                    metrics.add(JSONL.writeValueAsString(row));
                    if (step % config.checkpointEvery() == 0 || step == config.steps() || step == stopAfter) {
                        run.save(model, optimizer, tokenizer, KIND, step, config.steps(), configJson, metrics, null);
                    }
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            if (Double.isNaN(lastVal)) {
                lastVal = validationLoss(model, validation);
            }
            return new Outcome(Math.min(config.steps(), stopAfter), lastLoss, lastVal, tokens / Math.max(seconds, 1e-9));
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
            sum += CausalLmStep.evaluate(model, validation.sequentialBatch(b, rows, config.seqLen()), rows,
                    config.seqLen());
        }
        return sum / batches;
    }
}
