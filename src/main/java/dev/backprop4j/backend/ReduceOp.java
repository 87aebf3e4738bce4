package dev.backprop4j.backend;

/** Reductions over one axis. */
public enum ReduceOp {
    SUM, MAX
}
