package io.rlhf4j.serving.registry;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * The model registry: one immutable directory per version under {@code <dataDir>/models/<version>},
 * copied in atomically from an export directory, and its row in the store. Which version is active
 * lives in the store.
 */
public final class Registry {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;
    private final Store store;

    public Registry(Path dataDir, Store store) throws IOException {
        this.root = dataDir.resolve("models");
        this.store = store;
        Files.createDirectories(root);
    }

    public Path root() {
        return root;
    }

    public Store store() {
        return store;
    }

    /**
     * Registers an export directory (checkpoint, {@code policy.onnx}, {@code manifest.json}) as the next
     * version; returns it. The source is copied, so later changes to it do not touch the registry.
     */
    public synchronized ModelVersion register(Path exportDir, String parent) throws IOException {
        if (!Files.exists(exportDir.resolve(Layout.POLICY))
                || !Files.exists(exportDir.resolve(Layout.EXPORT_MANIFEST))) {
            throw new IllegalArgumentException(exportDir + " is not an export directory (policy.onnx and "
                    + "manifest.json are required; run rlhf4j export)");
        }
        String version = Integer.toString(nextVersion());
        Path target = root.resolve(version);
        AtomicDirectory.write(target, tmp -> {
            try (Stream<Path> files = Files.list(exportDir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    Files.copy(f, tmp.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        });
        String manifest = Files.readString(target.resolve("manifest.json"));
        // An export with a reward graph is a reward model; its policy graph is never served.
        String kind = Files.exists(target.resolve("reward.onnx")) ? ModelVersion.REWARD : ModelVersion.POLICY;
        ModelVersion v = new ModelVersion(
                version,
                kind,
                parent,
                target.toAbsolutePath().toString(),
                JSON.readTree(manifest).toString(),
                ModelVersion.REGISTERED,
                System.currentTimeMillis());
        store.versions().register(v);
        return v;
    }

    public List<ModelVersion> versions() {
        return store.versions().all();
    }

    private int nextVersion() {
        return store.versions().all().stream()
                        .mapToInt(v -> {
                            try {
                                return Integer.parseInt(v.version());
                            } catch (NumberFormatException e) {
                                return 0;
                            }
                        })
                        .max()
                        .orElse(0)
                + 1;
    }
}
