package dev.backprop4j.backend.conformance;

/**
 * One check of a backend against the CPU reference: one primitive (or one case of a fused one) in one dtype, at
 * every size the checks run at (1, 7, 1023, 1025). {@link #run} runs it and never throws: a mismatch or an error is the
 * result's detail.
 */
public final class ParityCheck {

    /** A mismatch, with its description: what differed, at which size and element, and both values. */
    static final class Mismatch extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Mismatch(String message) {
            super(message, null, false, false);
        }
    }

    private final String name;
    private final Runnable body;

    ParityCheck(String name, Runnable body) {
        this.name = name;
        this.body = body;
    }

    /** "gemm float32". */
    public String name() {
        return name;
    }

    /** Runs the check: passed, or the first mismatch or error. */
    public ParityResult run() {
        try {
            body.run();
            return new ParityResult(name, true, "");
        } catch (Mismatch m) {
            return new ParityResult(name, false, m.getMessage());
        } catch (RuntimeException e) {
            return new ParityResult(name, false, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
