package io.rlhf4j.exporter.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;

/** The process's ONNX Runtime environment, created quiet: warnings that matter go into manifests. */
public final class Ort {

    private Ort() {}

    public static OrtEnvironment env() {
        return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
    }
}
