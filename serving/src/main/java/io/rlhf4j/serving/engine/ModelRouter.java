package io.rlhf4j.serving.engine;

import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.registry.Registry;
import io.rlhf4j.serving.scheduler.Scheduler;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which scheduler (and so which engine version) new requests go to. Promotion loads and warms the new
 * engine beside the old one, then swaps the reference atomically: requests already admitted finish on
 * the old scheduler, which closes its engine once they have. A failed load leaves the active version
 * serving.
 */
public final class ModelRouter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelRouter.class);

    private final Store store;
    private final Registry registry;
    private final Scheduler.Limits limits;
    private final EngineOptions engine;
    private final AtomicReference<Scheduler> active = new AtomicReference<>();
    private final AtomicReference<OrtRewardEngine> reward = new AtomicReference<>();
    private final java.util.Set<String> servedPolicies =
            java.util.Collections.synchronizedSet(new java.util.LinkedHashSet<>());

    /** @param registry where a version's files are found (and, from a bucket, downloaded) and verified */
    public ModelRouter(Store store, Registry registry, Scheduler.Limits limits, EngineOptions engine) {
        this.registry = registry;
        this.store = store;
        this.limits = limits;
        this.engine = engine;
    }

    /** The scheduler serving new requests; null until a version is activated. */
    public Scheduler current() {
        return active.get();
    }

    /** The reward model scoring {@code /v1/rewards}; null until one is activated. */
    public OrtRewardEngine currentReward() {
        return reward.get();
    }

    /** Activates a version of either kind: loads, warms and swaps it in, and records it in the store. */
    public void activate(ModelVersion version) throws IOException {
        swapIn(version, true);
    }

    /**
     * Serves a version another replica activated: loads, verifies and swaps it in as an activation
     * does, without recording anything in the store (the activation is already there).
     */
    public void follow(ModelVersion version) throws IOException {
        swapIn(version, false);
    }

    /** Every policy version this router has served, in the order first served (for the metrics' series). */
    public java.util.Collection<String> servedPolicies() {
        return java.util.Collections.unmodifiableCollection(servedPolicies);
    }

    /** The version of {@code kind} this router serves, or null. */
    public String serving(String kind) {
        if (ModelVersion.REWARD.equals(kind)) {
            OrtRewardEngine r = reward.get();
            return r == null ? null : r.version();
        }
        Scheduler s = active.get();
        return s == null ? null : s.engine().version();
    }

    /**
     * Verifies, loads and warms {@code version} beside the one serving, records the activation when
     * {@code record} (an activation made here; a followed one is already recorded), then swaps.
     * Anything failing before the swap leaves the old version serving.
     */
    private synchronized void swapIn(ModelVersion version, boolean record) throws IOException {
        Path dir = registry.verifiedCopy(version);
        boolean isReward = ModelVersion.REWARD.equals(version.kind());
        AutoCloseable loaded = isReward
                ? OrtRewardEngine.load(dir, version.version(), engine)
                : OrtEngine.load(dir, version.version(), engine);
        try {
            if (loaded instanceof OrtRewardEngine r) {
                r.score(java.util.List.of(new int[] {Math.max(0, r.config().bosTokenId())}));
            } else {
                warm((PolicyEngine) loaded);
            }
            if (record) {
                store.versions().activate(version.kind(), version.version(), System.currentTimeMillis());
            }
        } catch (RuntimeException e) {
            closeQuietly(loaded);
            if (e instanceof Store.StoreException) {
                throw e;
            }
            throw new IOException("version " + version.version() + " failed its warm-up: " + e.getMessage(), e);
        }
        AutoCloseable old;
        if (loaded instanceof OrtRewardEngine r) {
            old = reward.getAndSet(r);
        } else {
            old = active.getAndSet(new Scheduler((OrtEngine) loaded, limits));
            servedPolicies.add(version.version());
        }
        LOG.info("version {} ({}) is active", version.version(), version.kind());
        if (old != null) {
            // close() waits for the requests (or scoring calls) already admitted to the old version.
            Thread retire = new Thread(() -> closeQuietly(old), "rlhf4j-retire-" + version.kind());
            retire.setDaemon(true);
            retire.start();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("closing a retired engine failed: {}", e.getMessage());
        }
    }

    private static void warm(PolicyEngine engine) {
        int bos = Math.max(0, engine.config().bosTokenId());
        PolicyEngine.Step s = engine.prefill(java.util.List.of(new int[] {bos}));
        s = engine.decode(s.batch(), new int[] {bos});
        s.batch().close();
    }

    @Override
    public void close() {
        Scheduler s = active.getAndSet(null);
        if (s != null) {
            s.close();
        }
        OrtRewardEngine r = reward.getAndSet(null);
        if (r != null) {
            r.close();
        }
    }
}
