package io.rlhf4j.serving.loop;

import io.rlhf4j.core.store.ClusterRepository;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * The right to supervise training runs, which exactly one server holds at a time. A single server
 * holds a lock on its runs directory for as long as it lives; replicas sharing a store hold a lease in
 * it, renewed at every tick and lost to another replica when a holder stops renewing (it died, or
 * cannot reach the store), so a run whose supervisor died is resumed by the next one.
 */
public interface Supervision extends AutoCloseable {

    /** Whether this server may start and follow runs now; renews (or tries to take) what it holds. */
    boolean held();

    /** Who holds it, for a refusal's message. */
    String holder();

    /** Gives it up, so another server need not wait for it to expire. */
    @Override
    void close();

    /** The lock on {@code runsDir}: held from the start or never (another server on the same data). */
    static Supervision fileLock(Path runsDir) {
        FileLock lock = ChildProcess.supervise(runsDir);
        return new Supervision() {
            @Override
            public boolean held() {
                return lock != null;
            }

            @Override
            public String holder() {
                return lock != null ? "this server" : "another server on " + runsDir;
            }

            @Override
            public void close() {
                if (lock != null) {
                    ChildProcess.release(lock, runsDir);
                }
            }
        };
    }

    /**
     * The cluster's training lease in the store, held by the replica {@code replica} names while renewed
     * within {@code ttl}; nothing is held while {@code replica} has no name yet.
     */
    static Supervision lease(ClusterRepository cluster, Supplier<String> replica, Duration ttl) {
        String name = ClusterRepository.TRAINING_LEASE;
        return new Supervision() {
            @Override
            public boolean held() {
                String me = replica.get();
                return me != null && cluster.tryLease(name, me, System.currentTimeMillis(), ttl.toMillis());
            }

            @Override
            public String holder() {
                return "replica "
                        + cluster.leaseHolder(name, System.currentTimeMillis()).orElse("(none yet)");
            }

            @Override
            public void close() {
                String me = replica.get();
                if (me != null) {
                    cluster.releaseLease(name, me);
                }
            }
        };
    }
}
