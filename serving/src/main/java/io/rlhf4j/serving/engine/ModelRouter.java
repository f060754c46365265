package io.rlhf4j.serving.engine;

import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
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
    private final Scheduler.Limits limits;
    private final EngineOptions engine;
    private final AtomicReference<Scheduler> active = new AtomicReference<>();
    private final AtomicReference<OrtRewardEngine> reward = new AtomicReference<>();

    public ModelRouter(Store store, Scheduler.Limits limits, EngineOptions engine) {
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

    /** Activates a version of either kind. */
    public void activateAny(ModelVersion version) throws IOException {
        if (ModelVersion.REWARD.equals(version.kind())) {
            activateReward(version);
        } else {
            activate(version);
        }
    }

    /** Loads a reward model and swaps it in; the old one closes once its scoring calls finish. */
    public synchronized void activateReward(ModelVersion version) throws IOException {
        OrtRewardEngine next = OrtRewardEngine.load(Path.of(version.path()), version.version(), engine);
        try {
            next.score(java.util.List.of(new int[] {Math.max(0, next.config().bosTokenId())}));
        } catch (RuntimeException e) {
            next.close();
            throw new IOException("reward version " + version.version() + " failed its warm-up: " + e.getMessage(), e);
        }
        try {
            store.versions().activate(ModelVersion.REWARD, version.version(), System.currentTimeMillis());
        } catch (RuntimeException e) {
            next.close();
            throw e;
        }
        OrtRewardEngine old = reward.getAndSet(next);
        if (old != null) {
            // close() waits for scoring calls in progress on the old engine.
            Thread retire = new Thread(old::close, "rlhf4j-retire-reward-" + old.version());
            retire.setDaemon(true);
            retire.start();
        }
    }

    /** Loads {@code version}, warms it with one short generation, makes it active, and retires the old one. */
    public synchronized void activate(ModelVersion version) throws IOException {
        OrtEngine loaded = OrtEngine.load(Path.of(version.path()), version.version(), engine);
        try {
            warm(loaded);
        } catch (RuntimeException e) {
            loaded.close();
            throw new IOException("version " + version.version() + " failed its warm-up: " + e.getMessage(), e);
        }
        try {
            store.versions().activate(ModelVersion.POLICY, version.version(), System.currentTimeMillis());
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
        Scheduler next = new Scheduler(loaded, limits);
        Scheduler old = active.getAndSet(next);
        LOG.info("version {} is active", version.version());
        if (old != null) {
            Thread retire =
                    new Thread(old::close, "rlhf4j-retire-" + old.engine().version());
            retire.setDaemon(true);
            retire.start();
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
