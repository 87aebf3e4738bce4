package dev.backprop4j.core;

/**
 * Random fills of {@link Backend#random}. Element i of a call with seed s and offset o is a pure function
 * of (s, o + i) (a counter-based generator, SplitMix64), so every backend and machine draws the same numbers.
 */
public enum Distribution {
    /** uniform on [a, b) */
    UNIFORM,
    /** normal with mean a and standard deviation b (Box-Muller on pairs of counters) */
    NORMAL,
    /** 1 with probability a, else 0 */
    BERNOULLI
}
