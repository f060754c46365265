package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.scheduler.GenerationRequest;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The labelers' API ({@code /v1/labeling/...}), as docs/api.md describes. A task is a logged prompt with K fresh completions from the active policy,
 * stored with the prompt so a ranking can only order completions that really exist. The queue leaves
 * out test-split users (their prompts are held out for evaluation) and leases a task to one labeler
 * for ten minutes so two labelers do not judge the same prompt at once. Store work runs on workers.
 */
final class LabelingHandler {

    static final int MIN_K = 4;
    static final int MAX_K = 9;
    private static final int PAGE = 500;
    private static final int MAX_DEMONSTRATION_CHARS = 8_000;
    /** How long a task stays with the labeler it was offered to before the queue offers it again. */
    static final Duration LEASE = Duration.ofMinutes(10);

    private final Bulkhead pool;
    private final ModelRouter router;
    private final Store store;
    private final Auth auth;
    private final int maxNewTokens;
    private final SplitPolicy split;
    private final Clock clock;
    /** A prompt handed to a labeler: the completions sampled for them, once sampled. */
    private record Lease(String labeler, List<Integer> completions, String version) {}

    private final Cache<String, Lease> leases;

    /** @param clock what leases expire by and judgements are stamped with */
    LabelingHandler(
            Bulkhead pool,
            ModelRouter router,
            Store store,
            Auth auth,
            int maxNewTokens,
            SplitPolicy split,
            Clock clock) {
        this.pool = pool;
        this.router = router;
        this.store = store;
        this.auth = auth;
        this.maxNewTokens = maxNewTokens;
        this.split = split;
        this.clock = clock;
        this.leases = Caffeine.newBuilder()
                .ticker(Clocks.ticker(clock))
                .expireAfterWrite(LEASE)
                .build();
    }

    void mount(Router r) {
        r.get("/v1/labeling/next").handler(this::next);
        r.post("/v1/labeling/rankings").handler(ctx -> ApiError.respond(pool, ctx, 201, () -> rank(ctx)));
        r.post("/v1/labeling/demonstrations").handler(ctx -> ApiError.respond(pool, ctx, 201, () -> demonstrate(ctx)));
        r.post("/v1/labeling/skips").handler(ctx -> ApiError.respond(pool, ctx, 201, () -> skip(ctx)));
    }

    // ------------------------------------------------------------------ the queue

    private record Task(String labeler, PromptLog prompt, Scheduler scheduler, int[] tokens, ObjectNode ready) {}

    private void next(RoutingContext ctx) {
        String authorization = ctx.request().getHeader("authorization");
        String labelerParam = ctx.request().getParam("labeler");
        String kParam = ctx.request().getParam("k", "4");
        pool.run(() -> {
                    int k;
                    try {
                        k = Integer.parseInt(kParam);
                    } catch (NumberFormatException e) {
                        throw ApiError.invalid("k", "k must be an integer, got '" + kParam + "'");
                    }
                    if (k < MIN_K || k > MAX_K) {
                        throw ApiError.invalid("k", "k must be " + MIN_K + ".." + MAX_K + ", got " + k);
                    }
                    String labeler = labeler(authorization, labelerParam);
                    Scheduler scheduler = router.current();
                    if (scheduler == null) {
                        throw ApiError.overloaded("no model version is active yet");
                    }
                    return findTask(
                            labeler, scheduler, scheduler.engine().config().maxPositions());
                })
                .compose(task -> task.isEmpty()
                        ? Future.succeededFuture(Optional.<ObjectNode>empty())
                        : task.get().ready() != null
                                ? Future.succeededFuture(Optional.of(task.get().ready()))
                                : sample(task.get(), Integer.parseInt(kParam)).map(Optional::of))
                .onComplete(ar -> {
                    if (ar.failed()) {
                        ApiError.of(ar.cause()).send(ctx.response());
                    } else if (ar.result().isEmpty()) {
                        ctx.response().setStatusCode(204).end();
                    } else {
                        ctx.response()
                                .putHeader("content-type", "application/json")
                                .end(ar.result().get().toString());
                    }
                });
    }

    /**
     * The first prompt this labeler may take, paging on: test-split users' prompts (and prompts leased to
     * others) stay at the head of the oldest-first queue for good, so one page could hold nothing else.
     */
    private Optional<Task> findTask(String labeler, Scheduler scheduler, int window) {
        for (int offset = 0; ; offset += PAGE) {
            List<PromptLog> page = store.judgements().labelingCandidates(labeler, PAGE, offset);
            if (page.isEmpty()) {
                return Optional.empty();
            }
            for (PromptLog p : page) {
                if (SplitPolicy.TEST.equals(split.splitOf(p.userId()))) {
                    continue;
                }
                Lease held = leases.asMap().putIfAbsent(p.id(), new Lease(labeler, null, null));
                if (held != null && (!held.labeler().equals(labeler) || held.completions() == null)) {
                    continue; // another labeler's, or this labeler's still being sampled
                }
                if (held != null) {
                    // Asked again before judging: the same task, not K more completions.
                    PromptLog full = store.prompts().find(p.id()).orElseThrow();
                    List<PromptLog.Completion> mine = full.completions().stream()
                            .filter(c -> held.completions().contains(c.index()))
                            .toList();
                    return Optional.of(new Task(labeler, p, scheduler, null, task(p, held.version(), mine)));
                }
                int[] tokens = scheduler.engine().tokenizer().encode(p.text(), true);
                if (tokens.length == 0 || tokens.length >= window - 1) {
                    leases.invalidate(p.id());
                    continue; // cannot be completed by this model: leave it for a longer-context one
                }
                return Optional.of(new Task(labeler, p, scheduler, tokens, null));
            }
        }
    }

    /** Samples K completions of the task's prompt, then stores them with it (on a worker). */
    private Future<ObjectNode> sample(Task task, int k) {
        int window = task.scheduler().engine().config().maxPositions();
        int budget = Math.max(1, Math.min(maxNewTokens, window - task.tokens().length - 1));
        SamplingParams params = new SamplingParams(budget, 1.0, 1.0, 0, List.of(), null);
        Promise<List<PromptLog.Completion>> done = Promise.promise();
        PromptLog.Completion[] out = new PromptLog.Completion[k];
        Sink sink = new Sink() {
            int open = k;

            @Override
            public void onToken(int choice, Token token) {}

            @Override
            public synchronized void onFinish(int choice, String text, FinishReason reason, int tokens) {
                out[choice] = new PromptLog.Completion(choice, text, tokens, null, reason.openAiName());
                if (--open == 0) {
                    done.tryComplete(List.of(out));
                }
            }

            @Override
            public void onError(Throwable error) {
                done.tryFail(error);
            }
        };
        // Labeling's samples queue as one caller of their own: they take their turn beside the API's.
        if (task.scheduler()
                .submit("labeling", List.of(new GenerationRequest(task.tokens(), params, k, 0)), List.of(sink))
                .isEmpty()) {
            leases.invalidate(task.prompt().id());
            return Future.failedFuture(ApiError.overloaded("the server is at capacity; retry shortly"));
        }
        String version = task.scheduler().engine().version();
        return done.future()
                .compose(completions -> pool.run(() -> {
                    List<PromptLog.Completion> stored =
                            store.prompts().addCompletions(task.prompt().id(), version, completions, clock.millis());
                    leases.put(
                            task.prompt().id(),
                            new Lease(
                                    task.labeler(),
                                    stored.stream()
                                            .map(PromptLog.Completion::index)
                                            .toList(),
                                    version));
                    return task(task.prompt(), version, stored);
                }))
                .onFailure(e -> leases.invalidate(task.prompt().id()));
    }

    private static ObjectNode task(PromptLog prompt, String version, List<PromptLog.Completion> completions) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("prompt_id", prompt.id());
        o.put("prompt", prompt.text());
        if (!prompt.messages().isEmpty()) {
            o.set("messages", Json.MAPPER.valueToTree(prompt.messages()));
        }
        o.put("model", version);
        ArrayNode cs = o.putArray("completions");
        for (PromptLog.Completion c : completions) {
            cs.addObject()
                    .put("id", prompt.id() + "-" + c.index())
                    .put("index", c.index())
                    .put("text", c.text());
        }
        return o;
    }

    // ------------------------------------------------------------------ judgements

    private ObjectNode rank(RoutingContext ctx) {
        JsonNode b = ApiError.jsonObject(ctx);
        String labeler = labeler(ctx.request().getHeader("authorization"), text(b, "labeler", false));
        PromptLog prompt = prompt(text(b, "prompt_id", true));
        JsonNode ranking = b.get("ranking");
        if (ranking == null || !ranking.isArray() || ranking.isEmpty()) {
            throw ApiError.invalid(
                    "ranking",
                    "ranking must be a list of groups of completion ids, best first, "
                            + "e.g. [[\"id1\"], [\"id2\", \"id3\"]] (a group is a tie)");
        }
        Map<String, Integer> known = new HashMap<>();
        prompt.completions().forEach(c -> known.put(prompt.id() + "-" + c.index(), c.index()));
        List<Integer> completions = new ArrayList<>();
        List<Integer> ranks = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        int place = 0;
        for (JsonNode group : ranking) {
            JsonNode members =
                    group.isArray() ? group : Json.MAPPER.createArrayNode().add(group);
            if (members.isEmpty()) {
                throw ApiError.invalid("ranking", "a group of the ranking is empty");
            }
            for (JsonNode id : members) {
                String cid = id.asText();
                Integer idx = known.get(cid);
                if (!id.isTextual() || idx == null) {
                    throw ApiError.invalid("ranking", "'" + cid + "' is not a completion of prompt " + prompt.id());
                }
                if (!seen.add(cid)) {
                    throw ApiError.invalid("ranking", "completion " + cid + " appears twice in the ranking");
                }
                completions.add(idx);
                ranks.add(place);
            }
            place++;
        }
        List<Judgement.Label> labels = labels(b, known, seen);
        Judgement.Ranking r;
        try {
            r = new Judgement.Ranking(
                    "rank-" + UUID.randomUUID(),
                    prompt.id(),
                    labeler,
                    completions,
                    ranks.stream().mapToInt(Integer::intValue).toArray(),
                    "labeling",
                    clock.millis());
        } catch (IllegalArgumentException e) {
            throw ApiError.invalid("ranking", e.getMessage());
        }
        // Checked once the body is known to be a ranking: a malformed one is a 400 whoever sends it. The
        // lease is taken, atomically, before the ranking is stored: of two submissions only one holds it,
        // and a ranked prompt is never offered again, so a labeler ranks a prompt once.
        Lease lease = leases.getIfPresent(prompt.id());
        if (lease == null
                || !lease.labeler().equals(labeler)
                || lease.completions() == null
                || !leases.asMap().remove(prompt.id(), lease)) {
            // Only the labeler the queue handed the task to may judge it, and only while the lease holds.
            throw new ApiError(
                    409,
                    "invalid_request_error",
                    "prompt_id",
                    "not_leased",
                    "prompt " + prompt.id()
                            + " is not leased to labeler '" + labeler + "': take it from GET /v1/labeling/next first "
                            + "(a lease lasts ten minutes)");
        }
        try {
            store.judgements().addRanking(r, labels);
        } catch (RuntimeException e) {
            leases.asMap().putIfAbsent(prompt.id(), lease); // nothing was stored: the task stays the labeler's
            throw e;
        }
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", r.id());
        o.put("prompt_id", prompt.id());
        o.put("k", completions.size());
        return o;
    }

    /** The optional per-completion scores and flags, keyed by completion id. */
    private static List<Judgement.Label> labels(JsonNode b, Map<String, Integer> known, Set<String> ranked) {
        JsonNode scores = b.path("scores");
        JsonNode flags = b.path("flags");
        for (JsonNode part : List.of(scores, flags)) {
            if (!part.isMissingNode() && !part.isNull() && !part.isObject()) {
                throw ApiError.invalid(part == scores ? "scores" : "flags", "must be an object keyed by completion id");
            }
            for (Iterator<String> it = part.fieldNames(); it.hasNext(); ) {
                String id = it.next();
                if (!ranked.contains(id)) {
                    throw ApiError.invalid(
                            part == scores ? "scores" : "flags", "'" + id + "' is not one of the ranked completions");
                }
            }
        }
        List<Judgement.Label> out = new ArrayList<>();
        for (String id : ranked) {
            JsonNode s = scores.path(id);
            JsonNode f = flags.path(id);
            if (s.isMissingNode() && f.isMissingNode()) {
                continue;
            }
            if (!s.isMissingNode() && !s.isNull() && !s.isInt()) {
                throw ApiError.invalid("scores", "the score of " + id + " must be an integer 1..7");
            }
            List<String> fl = new ArrayList<>();
            if (!f.isMissingNode() && !f.isNull()) {
                if (!f.isArray()) {
                    throw ApiError.invalid("flags", "the flags of " + id + " must be a list of names");
                }
                f.forEach(x -> fl.add(x.asText()));
            }
            try {
                out.add(new Judgement.Label(known.get(id), s.isInt() ? s.asInt() : null, fl));
            } catch (IllegalArgumentException e) {
                throw ApiError.invalid(
                        e.getMessage().startsWith("unknown flag") ? "flags" : "scores", id + ": " + e.getMessage());
            }
        }
        return out;
    }

    private ObjectNode demonstrate(RoutingContext ctx) {
        JsonNode b = ApiError.jsonObject(ctx);
        String labeler = labeler(ctx.request().getHeader("authorization"), text(b, "labeler", false));
        PromptLog prompt = prompt(text(b, "prompt_id", true));
        String text = text(b, "text", true);
        if (text.isBlank() || text.length() > MAX_DEMONSTRATION_CHARS) {
            throw ApiError.invalid("text", "a demonstration is 1.." + MAX_DEMONSTRATION_CHARS + " characters");
        }
        var d = new Judgement.Demonstration(
                "demo-" + UUID.randomUUID(), prompt.id(), labeler, text, "labeling", clock.millis());
        store.judgements().addDemonstration(d);
        leases.invalidate(prompt.id());
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", d.id());
        o.put("prompt_id", prompt.id());
        return o;
    }

    private ObjectNode skip(RoutingContext ctx) {
        JsonNode b = ApiError.jsonObject(ctx);
        String labeler = labeler(ctx.request().getHeader("authorization"), text(b, "labeler", false));
        PromptLog prompt = prompt(text(b, "prompt_id", true));
        store.judgements().addSkip(prompt.id(), labeler, text(b, "reason", false), clock.millis());
        leases.invalidate(prompt.id());
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("prompt_id", prompt.id());
        return o;
    }

    // ------------------------------------------------------------------ plumbing

    /** The labeler's id: the key's user, or in open mode the one the caller names. */
    private String labeler(String authorization, String named) {
        Auth.Principal who = auth.authenticate(authorization, null);
        if (auth.openMode()) {
            return named == null || named.isBlank() ? "anonymous" : named;
        }
        if (!"labeler".equals(who.role())) {
            throw new ApiError(
                    403,
                    "permission_error",
                    null,
                    "not_a_labeler",
                    "the labeling API needs a key with the labeler role; this key's role is '" + who.role() + "'");
        }
        return who.userId();
    }

    private PromptLog prompt(String id) {
        return store.prompts()
                .find(id)
                .orElseThrow(() ->
                        ApiError.notFound("prompt_id", "prompt_not_found", "no prompt " + id + " was ever served"));
    }

    private static String text(JsonNode b, String field, boolean required) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw ApiError.invalid(field, field + " is required");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw ApiError.invalid(field, field + " must be a string");
        }
        return v.asText();
    }
}
