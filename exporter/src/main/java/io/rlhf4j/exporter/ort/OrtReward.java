package io.rlhf4j.exporter.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Map;

/** An exported reward graph run by ONNX Runtime: token ids in, one reward per sequence out. */
public final class OrtReward implements AutoCloseable {

    private final OrtEnvironment env = Ort.env();
    private final OrtSession session;

    public OrtReward(Path onnx, OrtSession.SessionOptions.OptLevel level) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(level);
            this.session = env.createSession(onnx.toString(), options);
        }
    }

    public float[] rewards(long[] ids, long[] positions, long[] mask, int batch, int len) throws OrtException {
        long[] shape = {batch, len};
        try (OnnxTensor i = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
                OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(positions), shape);
                OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                OrtSession.Result r = session.run(Map.of("input_ids", i, "position_ids", p, "attention_mask", m))) {
            FloatBuffer fb = ((OnnxTensor) r.get("rewards").orElseThrow()).getFloatBuffer();
            float[] out = new float[fb.remaining()];
            fb.get(out);
            return out;
        }
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
