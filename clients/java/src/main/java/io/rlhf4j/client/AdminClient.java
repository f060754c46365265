package io.rlhf4j.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The operator's API: model versions (register, promote, roll back, unregister), API keys, deletion of a
 * user's data, and training runs. Every call presents the admin token given to
 * {@link Rlhf4jClient.Builder#adminToken(String)}; without one the server answers 401 (or 403 when its
 * admin API is disabled), reported as an {@link Rlhf4jException}.
 *
 * <p>Obtained from {@link Rlhf4jClient#admin()}; thread-safe.
 */
public final class AdminClient {

    private static final Transport.Credential ADMIN = Transport.Credential.ADMIN;

    private final Transport transport;

    AdminClient(Transport transport) {
        this.transport = transport;
    }

    /** Every version, policy and reward, with its manifest and which ones are active. */
    public List<ModelVersion> versions() {
        return Json.readList(
                transport.call("GET", "admin/versions", null, ADMIN),
                "versions",
                ModelVersion.class,
                "GET /admin/versions");
    }

    /**
     * Registers an export directory as a new version (policy or reward, by its contents). The path is read
     * by the server, on its file system, and is sent as given: a relative path resolves against the
     * server's working directory.
     */
    public Registration register(Path exportDir) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("path", Objects.requireNonNull(exportDir, "exportDir").toString());
        return Json.read(
                transport.call("POST", "admin/versions", body, ADMIN), Registration.class, "POST /admin/versions");
    }

    /**
     * Loads and warms a version, then swaps it in; requests in flight finish on the version they started
     * on. A version whose evaluation gate failed is refused ({@code 409}, code {@code gate_failed}) unless
     * {@code force}, and a forced promotion is written to the audit log.
     */
    public Promotion promote(String version, boolean force) {
        String path = "admin/models/" + Transport.segment(version) + "/promote" + (force ? "?force=true" : "");
        return Json.read(transport.call("POST", path, null, ADMIN), Promotion.class, "POST /" + path);
    }

    /** {@link #promote(String, boolean)} without forcing. */
    public Promotion promote(String version) {
        return promote(version, false);
    }

    /** Promotes the policy version that was active before the current one. */
    public Promotion rollback() {
        return Json.read(
                transport.call("POST", "admin/rollback", null, ADMIN), Promotion.class, "POST /admin/rollback");
    }

    /** Unregisters a version that is not active, so it can never be promoted by mistake. */
    public void unregister(String version) {
        transport.call("DELETE", "admin/models/" + Transport.segment(version), null, ADMIN);
    }

    /**
     * Creates an API key. The first key ends the server's open mode: from then on every request needs a key.
     *
     * @param role {@link ApiKey#USER}, {@link ApiKey#SERVICE} or {@link ApiKey#LABELER}
     * @param maySetUser whether requests with the key may name their end user in the {@code user} field (a
     *     service answering for its own users); otherwise they are recorded under {@code user}
     * @param requestsPerMinute the key's rate limit; null for the server's default
     */
    public ApiKey createKey(String user, String role, boolean maySetUser, Integer requestsPerMinute) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("user", Objects.requireNonNull(user, "user"));
        if (role != null) {
            body.put("role", role);
        }
        body.put("may_set_user", maySetUser);
        if (requestsPerMinute != null) {
            body.put("requests_per_minute", requestsPerMinute);
        }
        return Json.read(transport.call("POST", "admin/keys", body, ADMIN), ApiKey.class, "POST /admin/keys");
    }

    /** {@link #createKey(String, String, boolean, Integer)} with the server's default rate limit. */
    public ApiKey createKey(String user, String role) {
        return createKey(user, role, false, null);
    }

    /** Revokes every active key starting with {@code prefix}; returns how many. */
    public int revokeKey(String prefix) {
        JsonNode node = transport.call("DELETE", "admin/keys/" + Transport.segment(prefix), null, ADMIN);
        return node == null ? 0 : node.path("revoked").asInt();
    }

    /** Deletes a user's prompts, completions and judgements, and lists the versions trained on them. */
    public UserDeletion deleteUser(String userId) {
        String path = "admin/users/" + Transport.segment(userId);
        return Json.read(transport.call("DELETE", path, null, ADMIN), UserDeletion.class, "DELETE /" + path);
    }

    /**
     * Starts a run of the whole pipeline in the background; the answer holds only its id and state. At most
     * one run at a time: while one runs the server answers {@code 409}.
     *
     * @param config overrides of the pipeline configuration, or null for none
     */
    public TrainingRun startTrainingRun(Map<String, Object> config) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.set("config", config == null ? Json.MAPPER.createObjectNode() : Json.MAPPER.valueToTree(config));
        return Json.read(
                transport.call("POST", "admin/training-runs", body, ADMIN),
                TrainingRun.class,
                "POST /admin/training-runs");
    }

    /** Every run, newest first. */
    public List<TrainingRun> trainingRuns() {
        return Json.readList(
                transport.call("GET", "admin/training-runs", null, ADMIN),
                "runs",
                TrainingRun.class,
                "GET /admin/training-runs");
    }

    public TrainingRun trainingRun(String id) {
        String path = "admin/training-runs/" + Transport.segment(id);
        return Json.read(transport.call("GET", path, null, ADMIN), TrainingRun.class, "GET /" + path);
    }

    /**
     * The run's metric points so far ({@code stage}, {@code step} and whatever each stage logs: loss,
     * reward, KL, win rate), raw because each stage logs its own fields.
     */
    public List<JsonNode> trainingRunMetrics(String id) {
        String path = "admin/training-runs/" + Transport.segment(id) + "/metrics";
        JsonNode node = transport.call("GET", path, null, ADMIN);
        JsonNode metrics = node == null ? null : node.get("metrics");
        if (metrics == null || !metrics.isArray()) {
            throw Rlhf4jException.protocol("the server's answer to GET /" + path + " has no 'metrics' list");
        }
        List<JsonNode> out = new ArrayList<>(metrics.size());
        metrics.forEach(out::add);
        return Collections.unmodifiableList(out);
    }

    /**
     * Polls a run until it has succeeded or failed and returns it; a failed run is returned, not thrown
     * (its {@link TrainingRun#error()} says why). {@code onProgress}, if not null, sees the run each time
     * it changed since the last poll, on the calling thread. Polls start at 200 ms apart and back off to
     * 2 s.
     *
     * @throws Rlhf4jException with code {@link Rlhf4jException#WAIT_TIMEOUT} when {@code timeout} passes
     *     first (the run goes on on the server), or for a failed poll
     */
    public TrainingRun awaitTrainingRun(String id, Duration timeout, Consumer<TrainingRun> onProgress) {
        Objects.requireNonNull(timeout, "timeout");
        long deadline = System.nanoTime() + timeout.toNanos();
        long pollMillis = 200;
        TrainingRun last = null;
        while (true) {
            TrainingRun run = trainingRun(id);
            if (onProgress != null && !run.equals(last)) {
                onProgress.accept(run);
            }
            last = run;
            if (run.finished()) {
                return run;
            }
            long leftMillis = (deadline - System.nanoTime()) / 1_000_000;
            if (leftMillis <= 0) {
                throw new Rlhf4jException(
                        0,
                        null,
                        null,
                        Rlhf4jException.WAIT_TIMEOUT,
                        null,
                        null,
                        "training run "
                                + id + " is still " + run.state() + " (stage " + run.stage() + ", progress "
                                + Math.round(run.progress() * 100) + "%) after " + timeout
                                + "; it goes on on the server",
                        null);
            }
            try {
                Thread.sleep(Math.min(pollMillis, leftMillis));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Rlhf4jException(
                        0, null, null, null, null, null, "interrupted while waiting for training run " + id, e);
            }
            pollMillis = Math.min(pollMillis * 2, 2000);
        }
    }
}
