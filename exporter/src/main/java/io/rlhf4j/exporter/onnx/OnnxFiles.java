package io.rlhf4j.exporter.onnx;

import com.google.protobuf.ByteString;
import io.rlhf4j.exporter.onnx.proto.Onnx.ModelProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.StringStringEntryProto;
import io.rlhf4j.exporter.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes ONNX models. Protobuf messages cannot exceed 2 GiB, so when the initializers pass
 * {@code externalThreshold} bytes they move to a data file beside the graph ({@code <name>.data}),
 * referenced by ONNX's external-data fields, each tensor 4 KiB-aligned.
 */
public final class OnnxFiles {

    public static final long DEFAULT_EXTERNAL_THRESHOLD = 1L << 30;

    private OnnxFiles() {}

    /** Writes {@code model} to {@code file}; returns the external data file, or null when none was needed. */
    public static Path write(ModelProto model, Path file, long externalThreshold) throws IOException {
        long raw = 0;
        for (TensorProto t : model.getGraph().getInitializerList()) {
            raw += t.getRawData().size();
        }
        if (raw <= externalThreshold) {
            try (OutputStream out = Files.newOutputStream(file)) {
                model.writeTo(out);
            }
            return null;
        }
        Path data = file.resolveSibling(file.getFileName() + ".data");
        ModelProto.Builder b = model.toBuilder();
        var graph = b.getGraphBuilder();
        long offset = 0;
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(data), 1 << 20)) {
            for (int i = 0; i < graph.getInitializerCount(); i++) {
                TensorProto t = graph.getInitializer(i);
                ByteString bytes = t.getRawData();
                if (bytes.size() < 1024) {
                    continue;
                }
                long aligned = (offset + 4095) / 4096 * 4096;
                out.write(new byte[(int) (aligned - offset)]);
                bytes.writeTo(out);
                graph.setInitializer(
                        i,
                        t.toBuilder()
                                .clearRawData()
                                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                                .addExternalData(
                                        entry("location", data.getFileName().toString()))
                                .addExternalData(entry("offset", Long.toString(aligned)))
                                .addExternalData(entry("length", Integer.toString(bytes.size()))));
                offset = aligned + bytes.size();
            }
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            b.build().writeTo(out);
        }
        return data;
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }
}
