package dev.backprop4j.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * Splits index ranges over the CPU's cores. Work below a grain size, and work started from one of
 * our own worker threads (no nesting), runs on the calling thread.
 */
public final class Parallel {

    /** A body over the index range [lo, hi). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    public static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());

    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setDaemon(true);
        t.setName("backprop4j-cpu-" + t.getPoolIndex());
        return t;
    }, null, false);

    private Parallel() {
    }

    /** Runs body over [0, n) in at most THREADS chunks of at least {@code grain} indices each. */
    public static void forRange(int n, int grain, RangeBody body) {
        forRange(n, grain, THREADS, body);
    }

    /** Runs body over [0, n) in at most maxThreads chunks of at least {@code grain} indices each. */
    public static void forRange(int n, int grain, int maxThreads, RangeBody body) {
        int chunks = Math.min(Math.min(THREADS, maxThreads), Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || insidePool()) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        @SuppressWarnings("unchecked")
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            int lo = (int) ((long) n * c / chunks);
            int hi = (int) ((long) n * (c + 1) / chunks);
            tasks[c - 1] = POOL.submit(() -> body.run(lo, hi));
        }
        try {
            body.run(0, (int) ((long) n / chunks));
        } finally {
            for (ForkJoinTask<?> t : tasks) {
                t.join();
            }
        }
    }

    private static boolean insidePool() {
        return Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL;
    }
}
