package io.rlhf4j.serving.scheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The scheduler's wait queue, fair across callers. Each caller (an API key, or a user in open mode)
 * has its own first-in-first-out line, and the lines are served in turn, one request each: a caller
 * with a thousand queued prompts delays another's next one by at most one of its own, not by all of
 * them. A caller may hold at most {@code share} of the capacity, so one cannot fill the queue for
 * everyone, and a request of several prompts is queued whole or not at all.
 *
 * @param <T> what waits
 */
final class WaitQueue<T> {

    private final int capacity;
    private final int perCaller;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Map<String, ArrayDeque<T>> lines = new HashMap<>();
    /** Callers with something queued, in the order they are served next. */
    private final ArrayDeque<String> turns = new ArrayDeque<>();

    private int size;

    WaitQueue(int capacity, double share) {
        this.capacity = capacity;
        this.perCaller = Math.max(1, (int) Math.floor(capacity * share));
    }

    /** How many one caller may have waiting. */
    int perCaller() {
        return perCaller;
    }

    /** Queues every item for {@code caller}, or none when the queue or the caller's share would overflow. */
    boolean offerAll(String caller, List<T> items) {
        lock.lock();
        try {
            ArrayDeque<T> line = lines.get(caller);
            int mine = line == null ? 0 : line.size();
            if (size + items.size() > capacity || mine + items.size() > perCaller) {
                return false;
            }
            if (line == null) {
                line = new ArrayDeque<>();
                lines.put(caller, line);
            }
            if (line.isEmpty()) {
                turns.addLast(caller);
            }
            line.addAll(items);
            size += items.size();
            notEmpty.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * As {@link #poll}, but only if the head {@code fits}; peek and take under one lock, so that a
     * request taken back meanwhile cannot be swapped for another that does not fit.
     */
    T pollIf(java.util.function.Predicate<T> fits) {
        lock.lock();
        try {
            String next = turns.peekFirst();
            return next != null && fits.test(lines.get(next).peekFirst()) ? take() : null;
        } finally {
            lock.unlock();
        }
    }

    /** Removes {@code caller}'s waiting items that {@code gone} names (cancelled ones); returns how many. */
    int removeIf(String caller, java.util.function.Predicate<T> gone) {
        lock.lock();
        try {
            ArrayDeque<T> line = lines.get(caller);
            if (line == null) {
                return 0;
            }
            int before = line.size();
            line.removeIf(gone);
            int removed = before - line.size();
            size -= removed;
            if (line.isEmpty()) {
                lines.remove(caller);
                turns.remove(caller);
            }
            return removed;
        } finally {
            lock.unlock();
        }
    }

    /** The head of the next caller's line; that caller then goes to the back of the turns. */
    T poll() {
        lock.lock();
        try {
            return take();
        } finally {
            lock.unlock();
        }
    }

    /** As {@link #poll}, waiting up to {@code timeout} for something to arrive. */
    T poll(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (size == 0) {
                if (nanos <= 0) {
                    return null;
                }
                nanos = notEmpty.awaitNanos(nanos);
            }
            return take();
        } finally {
            lock.unlock();
        }
    }

    private T take() {
        String caller = turns.pollFirst();
        if (caller == null) {
            return null;
        }
        ArrayDeque<T> line = lines.get(caller);
        T item = line.pollFirst();
        size--;
        if (line.isEmpty()) {
            lines.remove(caller);
        } else {
            turns.addLast(caller);
        }
        return item;
    }

    /**
     * Takes back items queued by {@link #offerAll} if all of them are still waiting (true); otherwise
     * leaves them all where they are (false): a request is taken back whole or runs whole.
     */
    boolean removeAll(String caller, List<T> items) {
        lock.lock();
        try {
            ArrayDeque<T> line = lines.get(caller);
            if (line == null || !items.stream().allMatch(line::contains)) {
                return false;
            }
            for (T item : items) {
                line.remove(item);
                size--;
            }
            if (line.isEmpty()) {
                lines.remove(caller);
                turns.remove(caller);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Everything waiting, removed. */
    List<T> drain() {
        lock.lock();
        try {
            List<T> out = new ArrayList<>();
            for (T item; (item = take()) != null; ) {
                out.add(item);
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    int size() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    boolean isEmpty() {
        return size() == 0;
    }
}
