package io.rlhf4j.trainer.model;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * How a LoRA run holds its frozen base's matrices. What trains (adapters, heads) and all arithmetic stay
 * fp32: a half-precision matrix is widened to fp32 where it is used. Half precision is IEEE fp16, not
 * bf16: DJL's PyTorch bridge (0.36) maps no bfloat16 type, and creating or casting to one aborts the
 * JVM (its {@code GetScalarTypeFromDType} rethrows with no exception in flight). fp16 keeps 3 more
 * mantissa bits than bf16 but overflows above 65504, which {@link Decoder#freeze} checks.
 */
public enum Precision {
    FP32(DataType.FLOAT32),
    FP16(DataType.FLOAT16);

    private final DataType type;

    Precision(DataType type) {
        this.type = type;
    }

    public DataType type() {
        return type;
    }

    /** Bytes per stored value. */
    public int bytes() {
        return type.getNumOfBytes();
    }

    @JsonValue
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** {@code fp32} or {@code fp16}, in any case. */
    @JsonCreator
    public static Precision parse(String name) {
        for (Precision p : values()) {
            if (p.id().equalsIgnoreCase(name.strip())) {
                return p;
            }
        }
        throw new IllegalArgumentException("base precision must be fp32 or fp16, got '" + name
                + "' (bf16 is not offered: DJL's PyTorch engine has no bfloat16 type)");
    }
}
