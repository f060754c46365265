package io.rlhf4j.serving.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.Checksums;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The model registry: one immutable directory per version in the model store, copied in from an
 * export directory, and its row in the store. Which version is active lives in the store.
 *
 * <p>The model store is {@code <dataDir>/models} for one server, or a directory every replica mounts
 * at the same path (an NFS/EFS volume, a Kubernetes PVC), or an S3-compatible bucket ({@link S3Models}),
 * from which each replica downloads a version into {@code <dataDir>/models} before serving it.
 * Replicas may register at the same moment: in a directory a version's number is claimed by renaming
 * its complete copy into place, in a bucket by its row in the store (the version is the row's key), so
 * two registrations never share or overwrite a version.
 */
public final class Registry {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CLAIM_ATTEMPTS = 100;

    private final Path root;
    private final Store store;
    /** The bucket versions live in, or null when they live in {@link #root}. */
    private final S3Models bucket;
    /** Local version directories whose files matched their manifest once: they never change. */
    private final java.util.Set<Path> verified = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Whether other replicas use this model store too. */
    private final boolean shared;

    /** The registry of a single server: {@code <dataDir>/models}. */
    public Registry(Path dataDir, Store store) throws IOException {
        this(store, dataDir.resolve("models"), null, false);
    }

    private Registry(Store store, Path root, S3Models bucket, boolean shared) throws IOException {
        this.root = root;
        this.store = store;
        this.bucket = bucket;
        this.shared = shared;
        Files.createDirectories(root);
    }

    /**
     * The registry in a model store shared by replicas: a directory whose subdirectories are the
     * versions, or {@code s3://bucket/prefix} at {@code s3Endpoint} (null for AWS's), downloaded into
     * {@code <dataDir>/models}.
     */
    public static Registry shared(String modelStore, String s3Endpoint, Store store, Path dataDir) throws IOException {
        return S3Models.names(modelStore)
                ? new Registry(store, dataDir.resolve("models"), S3Models.open(modelStore, s3Endpoint), true)
                : new Registry(store, Path.of(modelStore), null, true);
    }

    public Path root() {
        return root;
    }

    /** The directory replicas share, where training runs can live too; empty for one server or a bucket. */
    public java.util.Optional<Path> sharedDirectory() {
        return shared && bucket == null ? java.util.Optional.of(root) : java.util.Optional.empty();
    }

    public Store store() {
        return store;
    }

    /**
     * Registers an export directory (checkpoint, {@code policy.onnx}, {@code manifest.json}) as the next
     * version; returns it. The source is copied, so later changes to it do not touch the registry.
     */
    public ModelVersion register(Path exportDir, String parent) throws IOException {
        if (!Files.exists(exportDir.resolve(Layout.POLICY))
                || !Files.exists(exportDir.resolve(Layout.EXPORT_MANIFEST))) {
            throw new IllegalArgumentException(exportDir + " is not an export directory (policy.onnx and "
                    + "manifest.json are required; run rlhf4j export)");
        }
        if (bucket != null) {
            return registerInBucket(exportDir, parent);
        }
        Path incoming = root.resolve(".incoming-" + UUID.randomUUID());
        AtomicDirectory.write(incoming, tmp -> {
            try (Stream<Path> files = Files.list(exportDir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    Files.copy(f, tmp.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        });
        try {
            for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
                String version = Integer.toString(nextVersion());
                Path target = root.resolve(version);
                if (!claim(incoming, target)) {
                    continue; // another replica took this number first
                }
                ModelVersion v =
                        row(target, version, parent, target.toAbsolutePath().toString());
                store.versions().register(v);
                return v;
            }
            throw new IOException("could not claim a version number in " + root + " after " + CLAIM_ATTEMPTS
                    + " attempts (is something else writing numbered directories there?)");
        } finally {
            AtomicDirectory.deleteRecursively(incoming);
        }
    }

    /** The row of {@code version}, registered from the export in {@code dir}, kept at {@code path}. */
    private static ModelVersion row(Path dir, String version, String parent, String path) throws IOException {
        String manifest = Files.readString(dir.resolve(Layout.EXPORT_MANIFEST));
        // An export with a reward graph is a reward model; its policy graph is never served.
        String kind = Files.exists(dir.resolve("reward.onnx")) ? ModelVersion.REWARD : ModelVersion.POLICY;
        return new ModelVersion(
                version,
                kind,
                parent,
                path,
                JSON.readTree(manifest).toString(),
                ModelVersion.REGISTERED,
                System.currentTimeMillis());
    }

    /**
     * Claims the next number by inserting its row (a number another replica took fails on the key), then
     * uploads; a version whose upload failed is unregistered, so nothing can promote it.
     */
    private ModelVersion registerInBucket(Path exportDir, String parent) throws IOException {
        for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
            String version = Integer.toString(nextVersion());
            ModelVersion v = row(exportDir, version, parent, bucket.location(version));
            try {
                store.versions().register(v);
            } catch (Store.StoreException e) {
                if (store.versions().find(version).isPresent()) {
                    continue; // another replica took this number first
                }
                throw e;
            }
            try {
                bucket.upload(exportDir, version);
            } catch (IOException | RuntimeException e) {
                store.versions().unregister(version);
                throw e;
            }
            return v;
        }
        throw new IOException("could not claim a version number after " + CLAIM_ATTEMPTS + " attempts");
    }

    /** The local directory of {@code v}: where it was registered, or its download from the bucket. */
    public Path localCopy(ModelVersion v) throws IOException {
        if (!S3Models.names(v.path())) {
            return Path.of(v.path());
        }
        if (bucket == null) {
            throw new IOException("version " + v.version() + " is in " + v.path()
                    + ", but this server's model store is not that bucket (set model_store to it)");
        }
        Path local = root.resolve(v.version());
        if (!Files.exists(local.resolve(Layout.EXPORT_MANIFEST))) {
            bucket.download(v.path(), local);
        }
        return local;
    }

    /**
     * {@link #localCopy}, checked against the checksums its registered manifest lists: what a replica
     * does before it serves a version another process wrote into the model store. A version's files
     * never change, so each is hashed once in this process; a downloaded copy that fails is deleted, so
     * the next attempt downloads it again.
     */
    public Path verifiedCopy(ModelVersion v) throws IOException {
        Path dir = localCopy(v);
        if (verified.contains(dir)) {
            return dir;
        }
        try {
            verify(v, dir);
        } catch (IOException e) {
            if (S3Models.names(v.path())) {
                AtomicDirectory.deleteRecursively(dir);
            }
            throw e;
        }
        verified.add(dir);
        return dir;
    }

    /** Renames the complete copy to {@code target}; false when that number is already taken. */
    private static boolean claim(Path incoming, Path target) throws IOException {
        if (Files.exists(target)) {
            return false;
        }
        try {
            Files.move(incoming, target, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            return false;
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException(
                    "the model store " + target.getParent() + " cannot rename directories atomically, "
                            + "which registration needs; use a POSIX file system (local, NFS, EFS)",
                    e);
        }
    }

    public List<ModelVersion> versions() {
        return store.versions().all();
    }

    private static void verify(ModelVersion v, Path dir) throws IOException {
        String version = v.version();
        if (!Files.isDirectory(dir)) {
            throw new IOException("version " + version + ": " + dir + " is missing (is the model store "
                    + "mounted at the same path on every replica?)");
        }
        JsonNode files = JSON.readTree(v.manifestJson()).path("files");
        for (Iterator<Map.Entry<String, JsonNode>> it = files.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Path f = dir.resolve(e.getKey());
            if (!Files.exists(f)) {
                throw new IOException("version " + version + ": " + e.getKey() + " is missing from " + dir);
            }
            String want = e.getValue().path("sha256").asText();
            if (!want.equals(Checksums.sha256(f))) {
                throw new IOException("version " + version + ": " + e.getKey()
                        + " does not match the checksum in its manifest (the model store copy is damaged)");
            }
        }
    }

    /** One more than the highest number in the store or in the directory (a claim not yet recorded). */
    private int nextVersion() throws IOException {
        int max = store.versions().all().stream()
                .mapToInt(v -> number(v.version()))
                .max()
                .orElse(0);
        try (Stream<Path> dirs = Files.list(root)) {
            max = Math.max(
                    max,
                    dirs.mapToInt(d -> number(d.getFileName().toString())).max().orElse(0));
        }
        return max + 1;
    }

    private static int number(String name) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
