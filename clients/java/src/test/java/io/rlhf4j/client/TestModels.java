package io.rlhf4j.client;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The models the tests serve: the bundled demo model exported to ONNX, and a reward model made from it. */
final class TestModels {

    static final Path DEMO = Path.of("..", "..", "demo", "base-model");

    private TestModels() {}

    static Path exportPolicy(Path out) throws IOException {
        new Exporter(new PrintStream(OutputStream.nullOutputStream()))
                .export(new Exporter.Options(DEMO, out, false, false, 1e-4, 2, 1L << 30, false));
        return out;
    }

    /** The demo decoder with a random scalar head: a reward model in format, not in judgement (as RewardsTest). */
    static Path exportReward(Path work) throws Exception {
        ModelConfig config = Checkpoint.readConfig(DEMO);
        Path checkpoint = work.resolve("rm");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(DEMO, m)) {
            List<Tensor> tensors = new ArrayList<>(d.toTensors());
            Random r = new Random(1);
            float[] head = new float[config.hiddenSize()];
            for (int i = 0; i < head.length; i++) {
                head[i] = (float) r.nextGaussian() * 0.1f;
            }
            tensors.add(new Tensor(RewardModel.HEAD_WEIGHT, new long[] {1, config.hiddenSize()}, head));
            tensors.add(new Tensor(RewardModel.HEAD_BIAS, new long[] {1}, new float[] {0.5f}));
            Checkpoint.write(checkpoint, config, tensors, Checkpoint.readTokenizer(DEMO), null);
        }
        Path out = work.resolve("rm-export");
        new Exporter(new PrintStream(OutputStream.nullOutputStream()))
                .export(new Exporter.Options(checkpoint, out, true, false, 1e-4, 2, 1L << 30, false));
        return out;
    }
}
