package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.ConsentRepository;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Replica;
import io.rlhf4j.serving.cluster.ClusterMember;
import io.rlhf4j.serving.cluster.ClusterStatus;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.loop.TrainingLoop;
import io.rlhf4j.serving.registry.Registry;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;

/**
 * {@code /admin/...}, for the admin token only (modelled on TorchServe's set-default and Triton's
 * repository API): list versions with their manifests, register an export directory, promote a
 * version (loaded and warmed in the background, then swapped in atomically), roll back to the version
 * active before, unregister a version that is not active.
 */
final class AdminHandler {

    private final Vertx vertx;
    private final Clock clock;
    private final ModelRouter router;
    private final Registry registry;
    private final byte[] token;
    private final Auth auth;
    private final TrainingLoop loop;
    private final LogWriter logs;
    private final ClusterMember cluster;

    AdminHandler(
            Vertx vertx,
            ModelRouter router,
            Registry registry,
            LogWriter logs,
            String adminToken,
            Auth auth,
            TrainingLoop loop,
            Clock clock,
            ClusterMember cluster) {
        this.cluster = cluster;
        this.logs = logs;
        this.clock = clock;
        this.auth = auth;
        this.loop = loop;
        this.vertx = vertx;
        this.router = router;
        this.registry = registry;
        this.token = adminToken == null || adminToken.isBlank() ? null : adminToken.getBytes(StandardCharsets.UTF_8);
    }

    void mount(Router r) {
        r.route("/admin/*").handler(this::authorize);
        r.get("/admin/versions").handler(ctx -> blocking(ctx, this::versions));
        r.post("/admin/versions").handler(ctx -> blocking(ctx, () -> register(ctx)));
        r.post("/admin/models/:version/promote")
                .handler(ctx -> blocking(
                        ctx,
                        () -> promote(
                                ctx.pathParam("version"),
                                "true".equals(ctx.request().getParam("force")))));
        r.post("/admin/rollback").handler(ctx -> blocking(ctx, this::rollback));
        r.get("/admin/cluster").handler(ctx -> blocking(ctx, this::cluster));
        r.delete("/admin/models/:version").handler(ctx -> blocking(ctx, () -> unregister(ctx.pathParam("version"))));
        r.post("/admin/keys").handler(ctx -> blocking(ctx, () -> createKey(ctx)));
        r.delete("/admin/users/:user").handler(ctx -> blocking(ctx, () -> deleteUser(ctx.pathParam("user"))));
        r.post("/admin/training-runs").handler(ctx -> blocking(ctx, () -> startRun(ctx)));
        r.get("/admin/training-runs").handler(ctx -> blocking(ctx, this::runs));
        r.get("/admin/training-runs/:id").handler(ctx -> blocking(ctx, () -> runJson(run(ctx.pathParam("id")))));
        r.get("/admin/training-runs/:id/metrics").handler(ctx -> blocking(ctx, () -> metrics(ctx.pathParam("id"))));
        r.delete("/admin/keys/:prefix").handler(ctx -> blocking(ctx, () -> revokeKey(ctx.pathParam("prefix"))));
    }

    private void authorize(RoutingContext ctx) {
        if (token == null) {
            new ApiError(
                            403,
                            "permission_error",
                            null,
                            "admin_disabled",
                            "the admin API is disabled: start the server with RLHF4J_ADMIN_TOKEN set")
                    .send(ctx.response());
            return;
        }
        String header = ctx.request().getHeader("authorization");
        byte[] given = header != null && header.startsWith("Bearer ")
                ? header.substring(7).getBytes(StandardCharsets.UTF_8)
                : new byte[0];
        if (!MessageDigest.isEqual(given, token)) {
            new ApiError(
                            401,
                            "invalid_request_error",
                            null,
                            "invalid_admin_token",
                            "admin endpoints need 'Authorization: Bearer <admin token>'")
                    .send(ctx.response());
            return;
        }
        ctx.next();
    }

    /** Runs {@code work} on a worker (model loads take seconds) and answers with its JSON. */
    private void blocking(RoutingContext ctx, Callable<ObjectNode> work) {
        vertx.executeBlocking(work, false).onComplete(ar -> {
            if (ar.succeeded()) {
                ctx.response()
                        .putHeader("content-type", "application/json")
                        .end(ar.result().toString());
                return;
            }
            Throwable e = ar.cause();
            if (e instanceof ApiError a) {
                a.send(ctx.response());
            } else if (e instanceof IllegalArgumentException) {
                ApiError.invalid(null, e.getMessage()).send(ctx.response());
            } else if (e instanceof IllegalStateException) {
                new ApiError(409, "invalid_request_error", null, "conflict", e.getMessage()).send(ctx.response());
            } else {
                ApiError.internal(e.getMessage()).send(ctx.response());
            }
        });
    }

    private ObjectNode versions() throws Exception {
        Scheduler s = router.current();
        ObjectNode root = Json.MAPPER.createObjectNode();
        ArrayNode list = root.putArray("versions");
        for (ModelVersion v : registry.versions()) {
            ObjectNode o = list.addObject();
            o.put("version", v.version());
            o.put("kind", v.kind());
            o.put("parent", v.parent());
            o.put("state", v.state());
            o.put("created_at", v.createdAt());
            o.put(
                    "active",
                    s != null && s.engine().version().equals(v.version())
                            || router.currentReward() != null
                                    && router.currentReward().version().equals(v.version()));
            o.set("manifest", Json.MAPPER.readTree(v.manifestJson()));
        }
        return root;
    }

    private ObjectNode register(RoutingContext ctx) throws Exception {
        var body = ApiError.jsonObject(ctx);
        if (body == null || !body.path("path").isTextual()) {
            throw ApiError.invalid("path", "give the export directory as {\"path\": \"...\"}");
        }
        ModelVersion v = registry.register(
                Path.of(body.get("path").asText()),
                router.current() == null ? null : router.current().engine().version());
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("version", v.version());
        o.put("state", v.state());
        return o;
    }

    private ObjectNode promote(String version, boolean force) throws Exception {
        ModelVersion v = registry.store()
                .versions()
                .find(version)
                .orElseThrow(() -> ApiError.notFound("version", "version_not_found", "no version " + version));
        if (!ModelVersion.REGISTERED.equals(v.state())) {
            throw new IllegalStateException("version " + version + " is " + v.state() + "; it cannot be promoted");
        }
        JsonNode gate = Json.MAPPER.readTree(v.manifestJson()).path("gate");
        if (gate.path("passed").isBoolean() && !gate.get("passed").asBoolean()) {
            if (!force) {
                throw new ApiError(
                        409,
                        "invalid_request_error",
                        "version",
                        "gate_failed",
                        "version " + version
                                + " failed its evaluation gate ("
                                + gate.path("reason").asText("see its manifest")
                                + "); promote with ?force=true to override, which is logged");
            }
            registry.store()
                    .audit()
                    .append(
                            "forced_promotion",
                            "version " + version + " promoted despite its failed gate: " + gate,
                            clock.millis());
            LoggerFactory.getLogger(AdminHandler.class)
                    .warn("forced promotion of version {} despite its failed gate {}", version, gate);
        }
        String previous = router.serving(v.kind());
        try {
            router.activate(v);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(
                    "version " + version + " failed to load; version " + previous + " is still serving: "
                            + e.getMessage(),
                    e);
        }
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("kind", v.kind());
        o.put("active", version);
        o.put("previous", previous);
        return o;
    }

    /** The replicas on this store, what each serves, and whether they all serve the active versions. */
    private ObjectNode cluster() {
        ClusterStatus status = cluster.status();
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("this_replica", cluster.id());
        root.put("active_policy", status.activePolicy());
        root.put("active_reward", status.activeReward());
        root.put("training_leader", status.leader());
        root.put("converged", status.converged());
        ArrayNode list = root.putArray("replicas");
        for (ClusterStatus.Member m : status.replicas()) {
            Replica r = m.replica();
            ObjectNode o = list.addObject();
            o.put("id", r.id());
            o.put("address", r.address());
            o.put("policy_version", r.policyVersion());
            o.put("reward_version", r.rewardVersion());
            o.put("running", r.running());
            o.put("queued", r.queued());
            o.put("error", r.error());
            o.put("alive", m.alive());
            o.put("current", m.current());
            o.put("heartbeat_age_ms", m.heartbeatAgeMs());
            o.put("started_at", r.startedAt());
        }
        return root;
    }

    private ObjectNode rollback() throws Exception {
        List<String> history = registry.store().versions().activationHistory(ModelVersion.POLICY);
        if (history.isEmpty()) {
            throw new IllegalStateException("nothing to roll back: no version has been active");
        }
        String current = history.get(history.size() - 1);
        for (int i = history.size() - 2; i >= 0; i--) {
            if (!history.get(i).equals(current)) {
                return promote(history.get(i), true); // it served before: its gate is history
            }
        }
        throw new IllegalStateException("nothing to roll back to: version " + current + " is the only one ever active");
    }

    /** Creates an API key; the key is in this answer and nowhere else (only its hash is stored). */
    private ObjectNode createKey(RoutingContext ctx) throws Exception {
        var body = ApiError.jsonObject(ctx);
        if (body == null || !body.path("user").isTextual()) {
            throw ApiError.invalid("user", "give the key's user id as {\"user\": \"...\"}");
        }
        String key = io.rlhf4j.core.store.ApiKey.generate();
        io.rlhf4j.core.store.ApiKey k = new io.rlhf4j.core.store.ApiKey(
                io.rlhf4j.core.store.ApiKey.hash(key),
                io.rlhf4j.core.store.ApiKey.prefixOf(key),
                body.get("user").asText(),
                body.path("role").asText("user"),
                body.path("may_set_user").asBoolean(false),
                body.path("requests_per_minute").asInt(600),
                clock.millis(),
                null);
        registry.store().keys().create(k);
        auth.invalidate();
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("key", key);
        o.put("prefix", k.prefix());
        o.put("user", k.userId());
        o.put("role", k.role());
        o.put("requests_per_minute", k.requestsPerMinute());
        return o;
    }

    private ObjectNode revokeKey(String prefix) {
        int n = registry.store().keys().revoke(prefix, clock.millis());
        if (n == 0) {
            throw ApiError.notFound("prefix", "key_not_found", "no active key starts with " + prefix);
        }
        auth.invalidate();
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("revoked", n);
        return o;
    }

    /**
     * Deletes a user's data and names the model versions trained on snapshots that held it: those
     * snapshots are immutable lineage, so retraining without the user is the admin's decision.
     */
    private ObjectNode deleteUser(String user) throws Exception {
        long at = clock.millis();
        // The first pass leaves the tombstone (from then on no log of the user's from before it is
        // written) and revokes their keys; the barrier waits out the logs already on their way to the
        // store, and the second pass removes any that a concurrent transaction wrote before it saw the
        // tombstone. Only then is the deletion reported done.
        ConsentRepository.Deletion d = registry.store().consent().deleteUser(user, at);
        auth.invalidate();
        logs.flush().get(60, java.util.concurrent.TimeUnit.SECONDS);
        d = d.plus(registry.store().consent().deleteUser(user, at));
        registry.store().audit().append("user_deleted", user + ": " + d, clock.millis());
        List<String> snapshots = loop.snapshotsHolding(user);
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("user", user);
        ObjectNode n = o.putObject("deleted");
        n.put("prompts", d.prompts());
        n.put("completions", d.completions());
        n.put("rankings", d.rankings());
        n.put("demonstrations", d.demonstrations());
        ArrayNode vs = o.putArray("model_versions");
        for (ModelVersion v : registry.versions()) {
            String snap = Json.MAPPER
                    .readTree(v.manifestJson())
                    .path("training")
                    .path("data_snapshot")
                    .asText(null);
            if (snap != null && snapshots.contains(Path.of(snap).getFileName().toString())) {
                vs.add(v.version());
            }
        }
        ArrayNode ss = o.putArray("snapshots");
        snapshots.forEach(ss::add);
        return o;
    }

    private ObjectNode startRun(RoutingContext ctx) throws Exception {
        JsonNode body = ctx.body().buffer() == null || ctx.body().buffer().length() == 0
                ? Json.MAPPER.createObjectNode()
                : ApiError.jsonObject(ctx);
        JsonNode config = body.path("config");
        if (!config.isMissingNode() && !config.isObject()) {
            throw ApiError.invalid("config", "config must be an object of pipeline settings");
        }
        ctx.response().setStatusCode(202);
        return runJson(loop.start("manual", config.isObject() ? (ObjectNode) config : null));
    }

    private ObjectNode runs() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode list = o.putArray("runs");
        registry.store().runs().all().forEach(r -> list.add(runJson(r)));
        return o;
    }

    private io.rlhf4j.core.store.TrainingRun run(String id) {
        return registry.store()
                .runs()
                .find(id)
                .orElseThrow(() -> ApiError.notFound("id", "run_not_found", "no training run " + id));
    }

    private ObjectNode metrics(String id) throws java.io.IOException {
        ObjectNode o = Json.MAPPER.createObjectNode();
        ArrayNode list = o.putArray("metrics");
        loop.metrics(run(id)).forEach(list::add);
        return o;
    }

    private ObjectNode unregister(String version) {
        registry.store().versions().unregister(version);
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("version", version);
        o.put("state", ModelVersion.UNREGISTERED);
        return o;
    }

    /** A run as the admin API shows it. */
    static ObjectNode runJson(io.rlhf4j.core.store.TrainingRun r) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", r.id());
        o.put("state", r.state());
        o.put("trigger", r.trigger());
        o.put("stage", r.stage());
        o.put("progress", r.progress());
        o.put("snapshot", r.snapshot());
        o.put("candidate", r.candidate());
        try {
            o.set("gate", r.gateJson() == null ? null : Json.MAPPER.readTree(r.gateJson()));
        } catch (java.io.IOException e) {
            o.put("gate", r.gateJson());
        }
        o.put("promoted", r.promoted());
        o.put("error", r.error());
        o.put("created_at", r.createdAt());
        o.put("updated_at", r.updatedAt());
        return o;
    }
}
