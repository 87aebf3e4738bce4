package dev.backprop4j.core;

/**
 * A seeded source of random numbers for tensors. Draws are counter-based (SplitMix64 of seed and
 * position, see {@link dev.backprop4j.core.Distribution}): the n-th number drawn from a generator
 * with a given seed is the same on every machine and every backend.
 */
public final class Generator {
    private static final Generator GLOBAL = new Generator(0x5EED);

    private long seed;
    private long offset;

    public Generator(long seed) {
        this.seed = seed;
    }

    /**
     * A generator for stream {@code stream} of {@code seed} (a model's dropout layers, its embeddings): seeded with
     * SplitMix64's mix of seed + stream 0x9E3779B97F4A7C15, so its draws share no counters with those of a generator
     * seeded with {@code seed} itself (whose k-th draw mixes seed + k 0x9E3779B97F4A7C15) nor with another stream's.
     */
    public static Generator stream(long seed, long stream) {
        long z = seed + stream * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new Generator(z ^ (z >>> 31));
    }

    /** The process-wide generator used when none is given (seed 0x5EED until {@link #manualSeed}). */
    public static Generator global() {
        return GLOBAL;
    }

    /** Restarts the global generator from {@code seed}. */
    public static void manualSeed(long seed) {
        synchronized (GLOBAL) {
            GLOBAL.seed = seed;
            GLOBAL.offset = 0;
        }
    }

    public synchronized long seed() {
        return seed;
    }

    /** The counter the next draw starts at (for checkpoints that resume a run bit for bit). */
    public synchronized long position() {
        return offset;
    }

    /** Continues from {@code seed} at {@code position}, as {@link #seed()} and {@link #position()} returned them. */
    public synchronized void restore(long seed, long position) {
        if (position < 0) {
            throw new IllegalArgumentException("Generator.restore: position must be >= 0, got " + position);
        }
        this.seed = seed;
        this.offset = position;
    }

    /** Reserves {@code n} consecutive counters and returns the first (kept even, so normal pairs align). */
    public synchronized long take(long n) {
        long start = offset;
        offset += n + (n & 1);
        return start;
    }
}
