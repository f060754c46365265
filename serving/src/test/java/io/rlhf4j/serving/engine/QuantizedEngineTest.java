package io.rlhf4j.serving.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.exporter.Exporter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A version's int8 variant, picked by the engine's {@code weights}, batches as the fp32 graph does. */
class QuantizedEngineTest {

    @TempDir
    Path tmp;

    private Path exportWithInt8() throws IOException {
        Path export = tmp.resolve("export");
        new Exporter(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new Exporter.Options(
                                Path.of("..", "demo", "base-model"), export, false, false, 1e-4, 2, 1L << 30, false)
                        .withQuantize(Exporter.Quantize.serving(WeightFormat.INT8)));
        return export;
    }

    @Test
    void theInt8VariantServesAndARowComputesTheSameAloneAndBesideOthers() throws Exception {
        Path export = exportWithInt8();
        try (OrtEngine fp32 = OrtEngine.load(export, "1", EngineOptions.cpu(0));
                OrtEngine int8 =
                        OrtEngine.load(export, "1", EngineOptions.cpu(0).withWeights(WeightFormat.INT8))) {
            int[] a = int8.tokenizer().encode("dog (noun):", true);
            int[] b = int8.tokenizer().encode("happy (adjective): the state of being glad and", true);
            float[] alone = int8.prefill(List.of(a)).logits()[0];
            PolicyEngine.Step both = int8.prefill(List.of(b, a));
            OrtEngineTest.assertClose(both.logits()[1], alone);
            both.batch().close();
            // The quantized graph is a different computation: close to fp32, not equal to it.
            float[] full = fp32.prefill(List.of(a)).logits()[0];
            double worst = 0;
            for (int i = 0; i < full.length; i++) {
                worst = Math.max(worst, Math.abs(full[i] - alone[i]));
            }
            assertThat(worst).isGreaterThan(0).isLessThan(0.5);
        }
    }

    @Test
    void aVersionWithoutTheConfiguredVariantFailsInOneLineSayingHowToMakeIt() throws Exception {
        Path export = exportWithInt8();
        assertThatThrownBy(
                        () -> OrtEngine.load(export, "7", EngineOptions.cpu(0).withWeights(WeightFormat.INT4)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("version 7 has no int4 policy (policy.int4.onnx)")
                .hasMessageContaining("--quantize int4");
    }
}
