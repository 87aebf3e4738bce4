package dev.backprop4j.backend;

/** Elementwise functions of two broadcast operands, out = f(a, b). */
public enum BinaryOp {
    ADD, SUB, MUL, DIV,
    /** out = max(a, b) */
    MAXIMUM,
    /** out = 1 where a == b, else 0 */
    EQ
}
