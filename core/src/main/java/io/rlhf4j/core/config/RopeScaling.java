package io.rlhf4j.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A Llama-family model's {@code rope_scaling}: how its rotary frequencies depart from {@code 1 /
 * theta^(2i/d)}, as HF's {@code modeling_rope_utils} computes them. Both engines (the trainer's
 * decoder and the ONNX graph) take their frequencies from {@link #inverseFrequencies}, so they agree
 * by construction, and the parity gate checks it.
 *
 * <ul>
 *   <li>{@code default}: none.
 *   <li>{@code linear}: every frequency divided by {@code factor} (positions interpolated).
 *   <li>{@code llama3}: Llama 3.1's: wavelengths shorter than {@code original / high_freq_factor}
 *       kept, longer than {@code original / low_freq_factor} divided by {@code factor}, and those
 *       between blended smoothly.
 * </ul>
 *
 * Types whose frequencies depend on the sequence length or rescale attention ({@code dynamic},
 * {@code yarn}, {@code longrope}, {@code su}) are refused by name rather than served wrong.
 */
public record RopeScaling(
        String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {

    static final List<String> SUPPORTED = List.of("default", "linear", "llama3");

    /** Declared after {@link #SUPPORTED}, which its construction reads. */
    public static final RopeScaling NONE = new RopeScaling("default", 1, 1, 1, 0);

    public RopeScaling {
        if (!SUPPORTED.contains(type)) {
            throw new IllegalArgumentException("unsupported rope_scaling type '" + type + "' (supported: " + SUPPORTED
                    + "; dynamic, yarn, longrope and su are not)");
        }
        if (!(factor > 0)) {
            throw new IllegalArgumentException("rope_scaling.factor must be positive, got " + factor);
        }
        if (type.equals("llama3")
                && (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositions < 1)) {
            throw new IllegalArgumentException("rope_scaling of type llama3 needs low_freq_factor > 0, "
                    + "high_freq_factor > low_freq_factor and original_max_position_embeddings >= 1");
        }
    }

    /** The frequencies of a head of {@code headDim} at base {@code theta}, in HF's float arithmetic. */
    public float[] inverseFrequencies(double theta, int headDim) {
        float[] out = new float[headDim / 2];
        for (int i = 0; i < out.length; i++) {
            double f = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            out[i] = (float)
                    switch (type) {
                        case "linear" -> f / factor;
                        case "llama3" -> llama3(f);
                        default -> f;
                    };
        }
        return out;
    }

    private double llama3(double f) {
        double lowWavelen = originalMaxPositions / lowFreqFactor;
        double highWavelen = originalMaxPositions / highFreqFactor;
        double wavelen = 2 * Math.PI / f;
        if (wavelen < highWavelen) {
            return f;
        }
        if (wavelen > lowWavelen) {
            return f / factor;
        }
        double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * f / factor + smooth * f;
    }

    /** From {@code config.json}'s {@code rope_scaling} (null or absent: none); HF's older {@code type} key too. */
    static RopeScaling fromJson(JsonNode n) {
        if (n == null || n.isNull()) {
            return NONE;
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException("rope_scaling must be an object");
        }
        String type = n.hasNonNull("rope_type")
                ? n.get("rope_type").asText()
                : n.path("type").asText("default");
        return new RopeScaling(
                type,
                n.path("factor").asDouble(1.0),
                n.path("low_freq_factor").asDouble(1.0),
                n.path("high_freq_factor").asDouble(4.0),
                n.path("original_max_position_embeddings").asInt(0));
    }

    /** Writes itself into {@code config} as HF does; nothing for none. */
    void writeInto(ObjectNode config) {
        if (this.equals(NONE) || type.equals("default")) {
            return;
        }
        ObjectNode s = config.putObject("rope_scaling");
        s.put("rope_type", type);
        s.put("factor", factor);
        if (type.equals("llama3")) {
            s.put("low_freq_factor", lowFreqFactor);
            s.put("high_freq_factor", highFreqFactor);
            s.put("original_max_position_embeddings", originalMaxPositions);
        }
    }
}
