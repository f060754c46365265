package io.rlhf4j.serving.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.rlhf4j.serving.engine.ModelRouter;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What {@code /metrics} exposes, in Prometheus's text format: requests by endpoint and status, request
 * latency and time to first token (with percentiles), generated tokens (tokens/s is its rate), queue
 * depth and requests in flight, and which version is active.
 */
public final class ServingMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer firstToken;
    private final Counter tokens;
    private final Counter slowStreams;
    private final Set<String> versions = ConcurrentHashMap.newKeySet();
    private final ModelRouter router;

    public ServingMetrics(ModelRouter router) {
        this.router = router;
        this.firstToken = Timer.builder("rlhf4j_time_to_first_token")
                .description("request arrival to first token")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        this.tokens = Counter.builder("rlhf4j_generated_tokens")
                .description("tokens generated")
                .register(registry);
        this.slowStreams = Counter.builder("rlhf4j_streams_cut_slow_client")
                .description("streams cancelled because their client stopped reading")
                .register(registry);
        Gauge.builder(
                        "rlhf4j_queue_depth",
                        router,
                        r -> r.current() == null ? 0 : r.current().queued())
                .description("requests waiting for a batch slot")
                .register(registry);
        Gauge.builder(
                        "rlhf4j_in_flight",
                        router,
                        r -> r.current() == null ? 0 : r.current().inFlight())
                .description("requests queued or generating on the active version")
                .register(registry);
    }

    public void request(String endpoint, int status, long nanos) {
        Timer.builder("rlhf4j_request")
                .description("HTTP request latency")
                .tag("endpoint", endpoint)
                .tag("status", Integer.toString(status))
                .publishPercentiles(0.5, 0.99)
                .register(registry)
                .record(Duration.ofNanos(nanos));
    }

    public void firstToken(long nanos) {
        firstToken.record(Duration.ofNanos(nanos));
    }

    public void slowStream() {
        slowStreams.increment();
    }

    public double slowStreams() {
        return slowStreams.count();
    }

    public void tokens(int n) {
        tokens.increment(n);
    }

    /** One {@code rlhf4j_active_version} series per version ever served: 1 for the one serving, 0 others. */
    private void activeVersions() {
        for (String version : router.servedPolicies().toArray(String[]::new)) {
            if (versions.add(version)) {
                Gauge.builder(
                                "rlhf4j_active_version",
                                router,
                                r -> version.equals(r.serving(io.rlhf4j.core.store.ModelVersion.POLICY)) ? 1 : 0)
                        .tag("version", version)
                        .description("1 for the version serving new requests")
                        .register(registry);
            }
        }
    }

    public String scrape() {
        activeVersions();
        return registry.scrape();
    }
}
