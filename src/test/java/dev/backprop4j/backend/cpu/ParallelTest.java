package dev.backprop4j.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

class ParallelTest {

    @Test
    void coversTheRangeOnceAcrossManyLoops() {
        for (int n : new int[]{0, 1, 7, 1000, 1_000_003}) {
            long[] hits = new long[n];
            for (int rep = 0; rep < 50; rep++) {
                Parallel.forRange(n, 1, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        hits[i]++;
                    }
                });
            }
            for (long h : hits) {
                assertEquals(50, h);
            }
        }
    }

    @Test
    void nestedLoopsRunSeriallyInsteadOfDeadlocking() {
        AtomicLong sum = new AtomicLong();
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> Parallel.forRange(1000, 1, (lo, hi) ->
                Parallel.forRange(hi - lo, 1, (a, b) -> sum.addAndGet(b - a))));
        assertEquals(1000, sum.get());
    }

    @Test
    void aFailingChunkFailsTheLoopAfterAllChunksEnd() {
        // the last chunk runs on a worker when there are several cores, on the caller otherwise
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, 1, (lo, hi) -> {
            if (hi == 100) {
                throw new IllegalStateException("last chunk");
            }
        }));
        assertEquals("last chunk", e.getMessage());
        long[] hits = new long[10];
        Parallel.forRange(10, 1, (lo, hi) -> hits[lo]++);   // still usable afterwards
    }
}
