package dev.backprop4j.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits index ranges over the CPU's cores with one daemon worker per extra core. A worker spins briefly
 * after finishing (about 50 microseconds) before parking, so the back-to-back parallel loops of a training
 * step reach it without the wake-up cost of a thread pool; the caller always runs the first chunk itself.
 * Work below a grain size, and work started from a worker (no nesting), runs on the calling thread.
 */
final class Parallel {

    /** A body over the index range [lo, hi). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    public static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());
    /** Elementwise loops shorter than this run on one thread. */
    static final int GRAIN = 1 << 17;
    private static final long SPIN_NANOS = 50_000;

    private static final Worker[] WORKERS = new Worker[THREADS - 1];
    private static final Object LOCK = new Object();

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i + 1);
            WORKERS[i].start();
        }
    }

    private Parallel() {
    }

    /** Runs body over [0, n) in at most THREADS chunks of at least {@code grain} indices each. */
    public static void forRange(int n, int grain, RangeBody body) {
        forRange(n, grain, THREADS, body);
    }

    /** Runs body over [0, n) in at most maxThreads chunks of at least {@code grain} indices each. */
    public static void forRange(int n, int grain, int maxThreads, RangeBody body) {
        int chunks = Math.min(Math.min(THREADS, maxThreads), Math.max(1, n / Math.max(1, grain)));
        // serial when small, on a worker, or nested inside the caller's own chunk (its worker is busy)
        if (chunks <= 1 || Thread.currentThread() instanceof Worker || Thread.holdsLock(LOCK)) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        // one parallel loop at a time: concurrent callers (several application threads) take turns
        synchronized (LOCK) {
            AtomicInteger pending = new AtomicInteger(chunks - 1);
            RuntimeException[] failure = new RuntimeException[1];
            for (int c = 1; c < chunks; c++) {
                int lo = (int) ((long) n * c / chunks);
                int hi = (int) ((long) n * (c + 1) / chunks);
                WORKERS[c - 1].submit(() -> {
                    try {
                        body.run(lo, hi);
                    } catch (RuntimeException | Error e) {
                        synchronized (failure) {
                            failure[0] = e instanceof RuntimeException r ? r : new RuntimeException(e);
                        }
                    } finally {
                        pending.decrementAndGet();
                    }
                });
            }
            try {
                body.run(0, (int) ((long) n / chunks));
            } finally {
                while (pending.get() > 0) {
                    Thread.onSpinWait();
                }
            }
            synchronized (failure) {
                if (failure[0] != null) {
                    throw failure[0];
                }
            }
        }
    }

    /** A worker thread with a one-task mailbox. */
    private static final class Worker extends Thread {
        private volatile Runnable task;

        Worker(int index) {
            super("backprop4j-cpu-" + index);
            setDaemon(true);
        }

        void submit(Runnable r) {
            task = r;
            LockSupport.unpark(this);
        }

        @Override
        public void run() {
            while (true) {
                Runnable r = task;
                if (r == null) {
                    long until = System.nanoTime() + SPIN_NANOS;
                    while ((r = task) == null && System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                    if (r == null) {
                        LockSupport.park(this);
                        continue;
                    }
                }
                task = null;
                r.run();
            }
        }
    }
}
