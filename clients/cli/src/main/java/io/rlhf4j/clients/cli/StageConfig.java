package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A training stage's configuration: its defaults, then a YAML or JSON file ({@code --config}), then the
 * flags given on the command line (flag {@code --batch-size} sets key {@code batch_size}). A key the
 * stage does not have is an error naming it.
 */
final class StageConfig {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private StageConfig() {}

    static <T> T resolve(T defaults, Path file, CommandSpec spec, Class<T> type) throws IOException {
        ObjectNode tree = YAML.valueToTree(defaults);
        if (file != null) {
            JsonNode read;
            try {
                read = YAML.readTree(file.toFile());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(file + ": not valid YAML or JSON (" + e.getOriginalMessage() + ")");
            }
            if (read != null && !read.isNull()) {
                if (!read.isObject()) {
                    throw new IllegalArgumentException(file + ": expected a mapping of settings");
                }
                for (Iterator<String> it = read.fieldNames(); it.hasNext(); ) {
                    String key = it.next();
                    if (!tree.has(key)) {
                        throw new IllegalArgumentException(file + ": unknown key '" + key + "' (known: "
                                + String.join(", ", (Iterable<String>) tree::fieldNames) + ")");
                    }
                    tree.set(key, read.get(key));
                }
            }
        }
        for (OptionSpec o : spec.options()) {
            String key = o.longestName().replaceFirst("^--", "").replace('-', '_');
            if (tree.has(key) && spec.commandLine().getParseResult().hasMatchedOption(o)) {
                tree.set(key, YAML.valueToTree(o.getValue()));
            }
        }
        try {
            return YAML.treeToValue(tree, type);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException((file == null ? "" : file + ": ") + cause.getMessage());
        }
    }
}
