package dev.backprop4j.tensor;

/**
 * Whether ops record on the tape, per thread. {@code try (var off = GradMode.noGrad()) { ... }} turns
 * recording off inside the block (evaluation, optimizer updates) and restores the previous mode after.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[]{true});

    private GradMode() {
    }

    public static boolean isEnabled() {
        return ENABLED.get()[0];
    }

    /** Turns recording off until the returned guard is closed. */
    public static Guard noGrad() {
        return set(false);
    }

    /** Turns recording on until the returned guard is closed. */
    public static Guard enableGrad() {
        return set(true);
    }

    private static Guard set(boolean on) {
        boolean[] state = ENABLED.get();
        boolean previous = state[0];
        state[0] = on;
        return new Guard(state, previous);
    }

    /** Restores the previous mode on close. */
    public static final class Guard implements AutoCloseable {
        private final boolean[] state;
        private final boolean previous;
        private boolean closed;

        private Guard(boolean[] state, boolean previous) {
            this.state = state;
            this.previous = previous;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                state[0] = previous;
            }
        }
    }
}
