package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.serving.cluster.ClusterMember;
import io.rlhf4j.serving.config.AdmissionLimits;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.loop.TrainingLoop;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.registry.Registry;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The HTTP front: OpenAI-compatible completions and models, the admin API, Prometheus metrics, health
 * and readiness. Handlers run on
 * Vert.x event loops and never block: tokenization runs on a worker, inference on the scheduler's
 * thread, prompt-log writes on the log writer's.
 */
public final class ApiServer {

    public static final long MAX_BODY_BYTES = 1 << 20;
    /** New tokens per completion the labeling queue samples. */
    static final int LABELING_MAX_TOKENS = 64;

    private final Vertx vertx;
    private final ModelRouter router;
    private final Registry registry;
    private final LogWriter logs;
    private final ServingMetrics metrics;
    private final String adminToken;
    private final TrainingLoop loop;
    private final Clock clock;
    private final boolean open;
    private final AdmissionLimits limits;
    private HttpServer server;
    private final java.util.List<Bulkhead> bulkheads = new java.util.ArrayList<>();
    /** Reward requests scoring or waiting at most; one more is answered 503. */
    static final int REWARDS_WAITING = 32;

    /**
     * @param open open mode on purpose ({@code --open}): no key is asked for even once keys exist
     * @param limits what one caller, and all together, may hold
     * @param clock what leases, rate limits and the handlers' timestamps follow
     * @param cluster this server as a replica
     */
    public ApiServer(
            Vertx vertx,
            ModelRouter router,
            Registry registry,
            LogWriter logs,
            ServingMetrics metrics,
            String adminToken,
            TrainingLoop loop,
            boolean open,
            AdmissionLimits limits,
            Clock clock,
            ClusterMember cluster) {
        this.cluster = cluster;
        this.open = open;
        this.limits = limits;
        this.loop = loop;
        this.clock = clock;
        this.vertx = vertx;
        this.router = router;
        this.registry = registry;
        this.logs = logs;
        this.metrics = metrics;
        this.adminToken = adminToken;
    }

    private final ClusterMember cluster;
    private RateBuckets buckets;

    public Future<Integer> start(String host, int port) {
        Router r = Router.router(vertx);
        r.route().handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
        buckets = new RateBuckets(registry.store(), clock);
        Auth auth = new Auth(registry.store(), isLoopback(host), open, clock, buckets);
        auth.openMode(); // learn the mode before the first request (not on the event loop)
        r.route().handler(new RequestGuard(auth));
        Quotas quotas = new Quotas(limits, buckets);
        // Bulkheads: authentication and tokenization of generation requests have a pool of their own,
        // which reward scoring, labeling and consent (and the key lookups they make) cannot exhaust.
        Bulkhead generation = bulkhead(new Bulkhead(vertx, "generation", 8, 4096));
        Bulkhead rewards = bulkhead(new Bulkhead(vertx, "rewards", 2, REWARDS_WAITING));
        Bulkhead labeling = bulkhead(new Bulkhead(vertx, "labeling", 4, 256));
        GenerationHandler.Services generating =
                new GenerationHandler.Services(vertx, router, logs, metrics, auth, quotas, generation, clock);
        r.post("/v1/completions").handler(new CompletionsHandler(generating));
        r.post("/v1/chat/completions").handler(new ChatCompletionsHandler(generating));
        new TokenizeHandler(generation, router, auth).mount(r);
        r.post("/v1/rewards").handler(new RewardsHandler(rewards, router, auth));
        r.get("/metrics")
                .handler(ctx -> ctx.response()
                        .putHeader("content-type", "text/plain; version=0.0.4")
                        .end(metrics.scrape()));
        new AdminHandler(vertx, router, registry, logs, adminToken, auth, loop, clock, cluster).mount(r);
        new LabelingHandler(labeling, router, registry.store(), auth, LABELING_MAX_TOKENS, loop.split(), clock)
                .mount(r);
        new ConsentHandler(labeling, registry.store(), auth, clock).mount(r);
        r.get("/v1/models").handler(this::models);
        r.get("/health").handler(ctx -> ctx.json(new io.vertx.core.json.JsonObject().put("status", "ok")));
        r.get("/ready").handler(this::ready);
        // The web client (playground, labeling, admin console) and its WebJars, from the classpath. Its
        // pages load only their own scripts and styles, and no other site may frame them (clickjacking).
        r.get("/*").handler(ApiServer::pageHeaders);
        r.get("/webjars/*")
                .handler(StaticHandler.create("META-INF/resources/webjars").setCachingEnabled(true));
        r.get("/*").handler(StaticHandler.create("webroot").setIndexPage("index.html"));
        r.route()
                .last()
                .handler(ctx -> ApiError.notFound(
                                null,
                                "not_found",
                                "no route for " + ctx.request().method() + " "
                                        + ctx.request().path())
                        .send(ctx.response()));
        r.route().failureHandler(this::failure);
        server = vertx.createHttpServer(new HttpServerOptions()
                .setHost(host)
                .setPort(port)
                .setIdleTimeout(600)
                .setMaxInitialLineLength(8192));
        return server.requestHandler(r).listen().map(HttpServer::actualPort);
    }

    private void failure(RoutingContext ctx) {
        int status = ctx.statusCode();
        Throwable t = ctx.failure();
        if (t instanceof ApiError e) {
            e.send(ctx.response());
        } else if (status == 413) {
            new ApiError(
                            413,
                            "invalid_request_error",
                            null,
                            "request_too_large",
                            "the request body exceeds " + MAX_BODY_BYTES + " bytes")
                    .send(ctx.response());
        } else if (status >= 400 && status < 500) {
            new ApiError(status, "invalid_request_error", null, null, "bad request").send(ctx.response());
        } else {
            ApiError.internal(t == null ? "internal error" : t.getMessage()).send(ctx.response());
        }
    }

    private void models(RoutingContext ctx) {
        Scheduler s = router.current();
        String active = s == null ? null : s.engine().version();
        // Reading each version's config is file work: on a worker, with the listing.
        vertx.executeBlocking(
                        () -> {
                            ObjectNode root = Json.MAPPER.createObjectNode();
                            root.put("object", "list");
                            ArrayNode data = root.putArray("data");
                            for (ModelVersion v : registry.versions()) {
                                ObjectNode m = data.addObject();
                                m.put("id", v.version());
                                m.put("object", "model");
                                m.put("created", v.createdAt() / 1000);
                                m.put("owned_by", "rlhf4j");
                                m.put("parent", v.parent());
                                m.put("active", v.version().equals(active));
                                Integer len = maxModelLen(v);
                                if (len == null) {
                                    m.putNull("max_model_len"); // an unregistered version's files may be gone
                                } else {
                                    m.put("max_model_len", len);
                                }
                            }
                            return root;
                        },
                        false)
                .onSuccess(root -> ctx.response()
                        .putHeader("content-type", "application/json")
                        .end(root.toString()))
                .onFailure(e -> ApiError.internal(e.getMessage()).send(ctx.response()));
    }

    /** A registered version's directory never changes: its config is read once, not on every listing. */
    private final Map<String, Integer> maxModelLens = new ConcurrentHashMap<>();

    private Integer maxModelLen(ModelVersion v) {
        Integer known = maxModelLens.get(v.path());
        if (known != null) {
            return known;
        }
        try {
            int len = Checkpoint.readConfig(Path.of(v.path())).maxPositions();
            maxModelLens.put(v.path(), len);
            return len;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private void ready(RoutingContext ctx) {
        Scheduler s = router.current();
        if (s == null) {
            ApiError.overloaded("no model version is active yet").send(ctx.response());
            return;
        }
        ctx.json(new io.vertx.core.json.JsonObject()
                .put("status", "ready")
                .put("version", s.engine().version())
                .put("in_flight", s.inFlight())
                .put("queued", s.queued()));
    }

    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static void pageHeaders(RoutingContext ctx) {
        ctx.response()
                .putHeader("content-security-policy", CONTENT_SECURITY_POLICY)
                .putHeader("x-frame-options", "DENY")
                .putHeader("x-content-type-options", "nosniff")
                .putHeader("referrer-policy", "no-referrer");
        ctx.next();
    }

    /** Whether {@code host} is a loopback address (open mode is allowed only there). */
    public static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private Bulkhead bulkhead(Bulkhead b) {
        bulkheads.add(b);
        return b;
    }

    public Future<Void> close() {
        Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
        return closed.onComplete(v -> {
            bulkheads.forEach(Bulkhead::close);
            if (buckets != null) {
                buckets.close();
            }
        });
    }
}
