package io.rlhf4j.serving.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A full bulkhead refuses at once with a 503 and leaves the other pools working. */
class BulkheadTest {

    @Test
    void aFullPoolRefusesAndAnotherPoolStillRuns() throws Exception {
        Vertx vertx = Vertx.vertx();
        try (Bulkhead rewards = new Bulkhead(vertx, "rewards", 1, 2);
                Bulkhead generation = new Bulkhead(vertx, "generation", 1, 2)) {
            CountDownLatch release = new CountDownLatch(1);
            Future<Integer> running = rewards.run(() -> release.await(30, TimeUnit.SECONDS) ? 1 : -1);
            Future<Integer> queued = rewards.run(() -> 2);
            Future<Integer> refused = rewards.run(() -> 3);
            assertThat(refused.failed()).isTrue();
            assertThat(refused.cause()).isInstanceOf(ApiError.class);
            assertThat(((ApiError) refused.cause()).status).isEqualTo(503);
            assertThat(((ApiError) refused.cause()).retryAfterSeconds).isEqualTo(1);
            assertThat(rewards.waiting()).isEqualTo(2);

            Integer other = generation
                    .run(() -> 4)
                    .toCompletionStage()
                    .toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            assertThat(other)
                    .as("the other pool is not blocked by the full one")
                    .isEqualTo(4);

            release.countDown();
            assertThat(running.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS))
                    .isEqualTo(1);
            assertThat(queued.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS))
                    .isEqualTo(2);
            assertThat(rewards.waiting()).isZero();
            assertThat(rewards.run(() -> 5)
                            .toCompletionStage()
                            .toCompletableFuture()
                            .get(10, TimeUnit.SECONDS))
                    .isEqualTo(5);
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }
}
