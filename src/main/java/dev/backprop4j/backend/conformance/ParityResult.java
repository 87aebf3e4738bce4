package dev.backprop4j.backend.conformance;

/** The outcome of one {@link ParityCheck}: passed, or the first mismatch or error in {@code detail}. */
public record ParityResult(String check, boolean passed, String detail) {
    @Override
    public String toString() {
        return (passed ? "PASS " : "FAIL ") + check + (detail.isEmpty() ? "" : ": " + detail);
    }
}
