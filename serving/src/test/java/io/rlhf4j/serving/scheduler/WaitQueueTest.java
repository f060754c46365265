package io.rlhf4j.serving.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scheduler's wait queue serves callers in turn and lets none of them fill it. */
class WaitQueueTest {

    @Test
    void callersAreServedInTurnSoABacklogDelaysOthersByOneRequest() {
        WaitQueue<String> q = new WaitQueue<>(100, 1.0);
        assertThat(q.offerAll("heavy", List.of("h1", "h2", "h3", "h4", "h5"))).isTrue();
        assertThat(q.offerAll("light", List.of("l1"))).isTrue();
        assertThat(q.offerAll("other", List.of("o1", "o2"))).isTrue();
        List<String> order = new ArrayList<>();
        for (String s; (s = q.poll()) != null; ) {
            order.add(s);
        }
        assertThat(order).containsExactly("h1", "l1", "o1", "h2", "o2", "h3", "h4", "h5");
        assertThat(q.isEmpty()).isTrue();
    }

    @Test
    void oneCallerCannotFillTheQueueAndARequestIsQueuedWholeOrNotAtAll() {
        WaitQueue<String> q = new WaitQueue<>(8, 0.5);
        assertThat(q.perCaller()).isEqualTo(4);
        assertThat(q.offerAll("a", List.of("a1", "a2", "a3"))).isTrue();
        assertThat(q.offerAll("a", List.of("a4", "a5")))
                .as("two more would pass a's share of four")
                .isFalse();
        assertThat(q.size()).as("nothing of the refused request stays queued").isEqualTo(3);
        assertThat(q.offerAll("b", List.of("b1", "b2", "b3", "b4"))).isTrue();
        assertThat(q.offerAll("c", List.of("c1", "c2")))
                .as("the queue of eight is full")
                .isFalse();
        assertThat(q.offerAll("c", List.of("c1"))).isTrue();
        assertThat(q.size()).isEqualTo(8);
    }

    @Test
    void aRequestIsTakenBackOnlyWhileAllOfItWaits() {
        WaitQueue<String> q = new WaitQueue<>(8, 1.0);
        q.offerAll("a", List.of("a1", "a2"));
        assertThat(q.poll()).isEqualTo("a1");
        assertThat(q.removeAll("a", List.of("a1", "a2")))
                .as("a1 already runs: the request stays whole")
                .isFalse();
        assertThat(q.size()).isEqualTo(1);
        q.offerAll("b", List.of("b1", "b2"));
        assertThat(q.removeAll("b", List.of("b1", "b2"))).isTrue();
        assertThat(q.drain()).containsExactly("a2");
    }

    @Test
    void theHeadIsTakenOnlyIfItFitsAndCancelledItemsLeaveAtOnce() {
        WaitQueue<String> q = new WaitQueue<>(8, 1.0);
        q.offerAll("a", List.of("big", "a2"));
        q.offerAll("b", List.of("b1"));
        assertThat(q.pollIf(s -> !s.equals("big")))
                .as("the head does not fit: nothing is taken")
                .isNull();
        assertThat(q.size()).isEqualTo(3);
        assertThat(q.pollIf(s -> true)).isEqualTo("big");
        assertThat(q.removeIf("a", s -> s.equals("a2"))).isEqualTo(1);
        assertThat(q.removeIf("nobody", s -> true)).isZero();
        assertThat(q.drain()).containsExactly("b1");
    }
}
