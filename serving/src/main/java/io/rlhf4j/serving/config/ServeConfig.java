package io.rlhf4j.serving.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.serving.ServingApp;
import io.rlhf4j.serving.cluster.ClusterOptions;
import io.rlhf4j.serving.engine.EngineOptions;
import io.rlhf4j.serving.loop.LoopOptions;
import io.rlhf4j.serving.scheduler.Scheduler;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The server's configuration: built-in defaults, then a YAML file, then environment variables, each
 * overriding the one before (command-line flags override all three). The file is strict: a key it does
 * not know is an error naming it, so a typo is not silently ignored.
 *
 * <pre>
 * server:    {host: 127.0.0.1, port: 8080, open: false}
 * data_dir:  data
 * model_store: /models          # shared by replicas (an NFS/EFS volume, a PVC, or s3://bucket/prefix)
 * cluster:   {replica_id: pod-0, address: http://pod-0.rlhf4j:8080, heartbeat_ms: 1000,
 *             s3_endpoint: http://minio:9000}   # for model_store: s3://..., when not AWS
 * database:  {url: jdbc:postgresql://db/rlhf4j, user: rlhf4j, password: secret}
 * engine:    {kind: onnxruntime-cpu, threads: 0, device: 0, weights: fp32, prefix_cache_mb: 256}
 * scheduler: {max_batch: 32, queue: 256, prefill_chunk: 256}
 * limits:    {log_queue: 10000, concurrent_per_key: 64, tokens_per_minute_per_key: 1000000,
 *             queue_share_per_key: 0.5, stream_buffer_bytes: 1048576, completions_per_request: 256}
 * loop:      {every_judgements: 200, auto_promote: false, training_threads: 1, base_model: demo/base-model,
 *             held_out_labelers: ""}
 * </pre>
 */
public final class ServeConfig {

    /** Each environment variable and the YAML path it sets. */
    public static final Map<String, String> ENV = Map.ofEntries(
            Map.entry("RLHF4J_HOST", "server.host"),
            Map.entry("RLHF4J_PORT", "server.port"),
            Map.entry("RLHF4J_OPEN", "server.open"),
            Map.entry("RLHF4J_DATA_DIR", "data_dir"),
            Map.entry("RLHF4J_MODEL_STORE", "model_store"),
            Map.entry("RLHF4J_REPLICA_ID", "cluster.replica_id"),
            Map.entry("RLHF4J_REPLICA_ADDRESS", "cluster.address"),
            Map.entry("RLHF4J_S3_ENDPOINT", "cluster.s3_endpoint"),
            Map.entry("RLHF4J_DB_URL", "database.url"),
            Map.entry("RLHF4J_DB_USER", "database.user"),
            Map.entry("RLHF4J_DB_PASSWORD", "database.password"),
            Map.entry("RLHF4J_ENGINE", "engine.kind"),
            Map.entry("RLHF4J_THREADS", "engine.threads"),
            Map.entry("RLHF4J_WEIGHTS", "engine.weights"),
            Map.entry("RLHF4J_MAX_BATCH", "scheduler.max_batch"),
            Map.entry("RLHF4J_QUEUE", "scheduler.queue"),
            Map.entry("RLHF4J_TRAIN_EVERY", "loop.every_judgements"),
            Map.entry("RLHF4J_AUTO_PROMOTE", "loop.auto_promote"));

    private static final Map<String, Set<String>> KEYS = Map.of(
            "server", Set.of("host", "port", "open"),
            "limits",
                    Set.of(
                            "log_queue",
                            "concurrent_per_key",
                            "tokens_per_minute_per_key",
                            "queue_share_per_key",
                            "stream_buffer_bytes",
                            "completions_per_request"),
            "data_dir", Set.of(),
            "model_store", Set.of(),
            "cluster", Set.of("replica_id", "address", "heartbeat_ms", "s3_endpoint"),
            "database", Set.of("url", "user", "password"),
            "engine", Set.of("kind", "threads", "device", "weights", "prefix_cache_mb"),
            "scheduler", Set.of("max_batch", "queue", "prefill_chunk"),
            "loop", Set.of("every_judgements", "auto_promote", "training_threads", "base_model", "held_out_labelers"));

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private ServeConfig() {}

    /**
     * @param file a YAML file, or null
     * @param env the environment (System.getenv() in production)
     * @param adminToken from {@code RLHF4J_ADMIN_TOKEN}: secrets stay out of files
     */
    public static ServingApp.Config load(Path file, Map<String, String> env, String adminToken) throws IOException {
        ObjectNode tree = YAML.createObjectNode();
        if (file != null) {
            JsonNode read;
            try {
                read = YAML.readTree(file.toFile());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(file + ": not valid YAML (" + e.getOriginalMessage() + ")");
            }
            if (read != null && !read.isNull()) {
                if (!read.isObject()) {
                    throw new IllegalArgumentException(file + ": expected a mapping at the top level");
                }
                checkKeys(file.toString(), (ObjectNode) read);
                tree = (ObjectNode) read;
            }
        }
        for (Map.Entry<String, String> e : ENV.entrySet()) {
            String value = env.get(e.getKey());
            if (value != null && !value.isBlank()) {
                set(tree, e.getValue(), value);
            }
        }
        try {
            return new ServingApp.Config(
                    Path.of(text(tree, "data_dir", "data")),
                    text(tree, "database.url", null),
                    text(tree, "database.user", null),
                    text(tree, "database.password", null),
                    text(tree, "server.host", "127.0.0.1"),
                    integer(tree, "server.port", 8080),
                    new EngineOptions(
                            text(tree, "engine.kind", EngineOptions.CPU),
                            integer(tree, "engine.threads", 0),
                            integer(tree, "engine.device", 0),
                            WeightFormat.parse(text(tree, "engine.weights", "fp32")),
                            integer(tree, "engine.prefix_cache_mb", EngineOptions.DEFAULT_PREFIX_CACHE_MB)),
                    integer(tree, "scheduler.max_batch", 32),
                    integer(tree, "scheduler.queue", 256),
                    integer(tree, "scheduler.prefill_chunk", Scheduler.Limits.DEFAULT_PREFILL_CHUNK),
                    adminToken,
                    // The pipeline launcher is the command line's to supply: it knows its own class path.
                    LoopOptions.disabled()
                            .withBaseModel(
                                    text(tree, "loop.base_model", null) == null
                                            ? null
                                            : Path.of(text(tree, "loop.base_model", null)))
                            .withEveryJudgements(integer(tree, "loop.every_judgements", 200))
                            .withAutoPromote(Boolean.parseBoolean(text(tree, "loop.auto_promote", "false")))
                            .withTrainingThreads(integer(tree, "loop.training_threads", 1))
                            .withHeldOutLabelers(text(tree, "loop.held_out_labelers", "")),
                    bool(tree, "server.open", false),
                    limits(tree),
                    new ClusterOptions(
                            text(tree, "model_store", null),
                            text(tree, "cluster.replica_id", null),
                            text(tree, "cluster.address", null),
                            Duration.ofMillis(integer(
                                    tree, "cluster.heartbeat_ms", (int) ClusterOptions.DEFAULT_HEARTBEAT.toMillis())),
                            text(tree, "cluster.s3_endpoint", null)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    (file == null ? "configuration" : file.toString()) + ": " + e.getMessage());
        }
    }

    private static void checkKeys(String where, ObjectNode root) {
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            Set<String> sub = KEYS.get(k);
            if (sub == null) {
                throw new IllegalArgumentException(
                        where + ": unknown key '" + k + "' (known: " + List.copyOf(KEYS.keySet()) + ")");
            }
            JsonNode v = root.get(k);
            if (!sub.isEmpty()) {
                if (!v.isObject()) {
                    throw new IllegalArgumentException(where + ": '" + k + "' must be a mapping");
                }
                for (Iterator<String> s = v.fieldNames(); s.hasNext(); ) {
                    String name = s.next();
                    if (!sub.contains(name)) {
                        throw new IllegalArgumentException(
                                where + ": unknown key '" + k + "." + name + "' (known: " + List.copyOf(sub) + ")");
                    }
                }
            }
        }
    }

    private static void set(ObjectNode root, String path, String value) {
        String[] parts = path.split("\\.");
        ObjectNode node = root;
        for (int i = 0; i < parts.length - 1; i++) {
            node = node.has(parts[i]) && node.get(parts[i]).isObject()
                    ? (ObjectNode) node.get(parts[i])
                    : node.putObject(parts[i]);
        }
        node.put(parts[parts.length - 1], value);
    }

    private static JsonNode at(ObjectNode root, String path) {
        JsonNode n = root;
        for (String p : path.split("\\.")) {
            n = n == null ? null : n.get(p);
        }
        return n == null || n.isNull() ? null : n;
    }

    private static String text(ObjectNode root, String path, String dflt) {
        JsonNode n = at(root, path);
        return n == null ? dflt : n.asText();
    }

    private static AdmissionLimits limits(ObjectNode tree) {
        AdmissionLimits d = AdmissionLimits.defaults();
        return new AdmissionLimits(
                integer(tree, "limits.log_queue", d.logQueue()),
                integer(tree, "limits.concurrent_per_key", d.concurrentPerKey()),
                integer(tree, "limits.tokens_per_minute_per_key", (int) d.tokensPerMinutePerKey()),
                number(tree, "limits.queue_share_per_key", d.queueSharePerKey()),
                integer(tree, "limits.stream_buffer_bytes", d.streamBufferBytes()),
                integer(tree, "limits.completions_per_request", d.completionsPerRequest()));
    }

    private static boolean bool(ObjectNode root, String path, boolean dflt) {
        String t = text(root, path, null);
        if (t == null) {
            return dflt;
        }
        if (!t.equals("true") && !t.equals("false")) {
            throw new IllegalArgumentException("'" + path + "' must be true or false, got '" + t + "'");
        }
        return Boolean.parseBoolean(t);
    }

    private static double number(ObjectNode root, String path, double dflt) {
        JsonNode n = at(root, path);
        if (n == null) {
            return dflt;
        }
        try {
            return Double.parseDouble(n.asText().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + path + "' must be a number, got '" + n.asText() + "'");
        }
    }

    private static int integer(ObjectNode root, String path, int dflt) {
        JsonNode n = at(root, path);
        if (n == null) {
            return dflt;
        }
        if (n.canConvertToInt() && n.isIntegralNumber()) {
            return n.asInt();
        }
        try {
            return Integer.parseInt(n.asText().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + path + "' must be an integer, got '" + n.asText() + "'");
        }
    }
}
