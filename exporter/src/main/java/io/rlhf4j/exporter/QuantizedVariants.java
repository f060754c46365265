package io.rlhf4j.exporter;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.exporter.Exporter.Options;
import io.rlhf4j.exporter.Exporter.Quantize;
import io.rlhf4j.exporter.onnx.DecoderGraph;
import io.rlhf4j.exporter.onnx.Quantization;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The quantized policy graphs of an export ({@code --quantize}): each variant written beside the
 * fp32 graph, then measured against it by the {@link QualityGate}, its figures into the manifest.
 */
final class QuantizedVariants {

    private final PrintStream log;

    QuantizedVariants(PrintStream log) {
        this.log = log;
    }

    /**
     * Writes each quantized variant and its quality gate; one that fails the gate stops the export, so
     * nothing is written.
     */
    void write(
            Options o,
            ModelConfig config,
            Map<String, Tensor> tensors,
            Map<String, String> meta,
            Path dir,
            ObjectNode quantized,
            ObjectNode files)
            throws IOException {
        Quantize q = o.quantize();
        try {
            List<long[]> sequences = QualityGate.sequences(
                    dir.resolve(Exporter.POLICY), config, Checkpoint.readTokenizer(o.model()), q.text());
            String text =
                    q.text() == null ? "samples of the fp32 graph" : q.text().toString();
            for (WeightFormat f : q.formats()) {
                Quantization quantization = q.quantization(f);
                log.printf(
                        "building %s (%d-bit blocks of %d, accuracy level %d%s)%n",
                        f.policyFile(),
                        f.bits(),
                        q.block(),
                        q.accuracyLevel(),
                        q.unembedding() ? ", unembedding at " + quantization.unembeddingBits() + " bits" : "");
                Exporter.write(
                        DecoderGraph.policy(config, tensors, meta, quantization),
                        dir.resolve(f.policyFile()),
                        o,
                        files);
                QualityGate.Result r = QualityGate.measure(
                        dir.resolve(Exporter.POLICY), dir.resolve(f.policyFile()), config, sequences, text);
                ObjectNode n = quantized.putObject(f.id());
                n.put("file", f.policyFile());
                n.put("bits", f.bits());
                n.put("block_size", q.block());
                n.put("accuracy_level", q.accuracyLevel());
                n.put("unembedding_bits", q.unembedding() ? quantization.unembeddingBits() : 32);
                r.writeInto(n);
                log.printf(
                        "quality %s: perplexity %.4f vs fp32 %.4f (%+.2f%%), greedy agreement %.2f over %d tokens%n",
                        f.policyFile(),
                        r.perplexity(),
                        r.perplexityFp32(),
                        100 * r.increase(),
                        r.greedyAgreement(),
                        r.greedyTokens());
                if (!(r.increase() <= q.maxPerplexityIncrease())) {
                    throw new QualityGate.QualityException(String.format(
                            "quality gate failed: %s raises perplexity by %.2f%% (%.4f vs %.4f) > the allowed %.2f%%;"
                                    + " nothing was exported",
                            f.policyFile(),
                            100 * r.increase(),
                            r.perplexity(),
                            r.perplexityFp32(),
                            100 * q.maxPerplexityIncrease()));
                }
            }
        } catch (OrtException e) {
            throw new IOException("ONNX Runtime failed during the quality gate: " + e.getMessage(), e);
        }
    }
}
