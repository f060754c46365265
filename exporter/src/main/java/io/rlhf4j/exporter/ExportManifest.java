package io.rlhf4j.exporter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Layout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code manifest.json}: what was exported from what, with which signature, and how well it matched. */
public final class ExportManifest {

    public static final String FILE = Layout.EXPORT_MANIFEST;
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ExportManifest() {}

    static ObjectNode fileEntry(Path file) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("sha256", io.rlhf4j.core.io.Checksums.sha256(file));
        n.put("bytes", Files.size(file));
        return n;
    }

    static ObjectNode read(Path dir) throws IOException {
        return (ObjectNode) JSON.readTree(dir.resolve(FILE).toFile());
    }
}
