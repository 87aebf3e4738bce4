package dev.backprop4j.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A lifetime for tensors, per thread: every tensor created while a scope is open belongs to the
 * innermost one, and {@link #close()} closes all of them except those moved out with {@link #keep}.
 * Use one per training step so device memory of intermediates returns at once:
 * <pre>{@code
 * try (Scope step = Scope.open()) {
 *     Tensor loss = model.forward(x).crossEntropy(y);
 *     loss.backward();
 *     optimizer.step();
 *     return step.keep(loss);   // survives the scope (moves to the enclosing one, if any)
 * }
 * }</pre>
 * Parameters, their gradients and optimizer state are owned by their module or optimizer and never
 * belong to a scope. A tensor created inside a scope, a leaf that requires grad included, is closed with it, its
 * gradient too: create what must outlive the step before the scope opens (or {@code keep} it). Using a tensor a
 * scope closed fails naming where that scope was opened. Closing is idempotent.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private static final StackWalker WALKER = StackWalker.getInstance();

    private final Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Thread thread = Thread.currentThread();
    private final String site;
    private boolean closed;

    private Scope(String site) {
        this.site = site;
    }

    /** Opens a scope nested in the current one. */
    public static Scope open() {
        Scope s = new Scope(WALKER.walk(frames -> frames
                .filter(f -> !f.getClassName().startsWith(Scope.class.getPackageName() + "."))
                .findFirst().map(f -> f.getFileName() + ":" + f.getLineNumber()).orElse("?")));
        STACK.get().push(s);
        return s;
    }

    /** Where this scope was opened, e.g. "Trainer.java:61"; errors about tensors it closed name it. */
    public String site() {
        return site;
    }

    /** Moves {@code t} out of this scope into the enclosing one (or none); returns t. */
    public Tensor keep(Tensor t) {
        if (owned.remove(t)) {
            t.owner = null;
            Scope parent = parent();
            if (parent != null) {
                parent.adopt(t);
            }
        }
        return t;
    }

    private Scope parent() {
        java.util.Iterator<Scope> it = STACK.get().iterator();
        while (it.hasNext()) {
            if (it.next() == this) {
                return it.hasNext() ? it.next() : null;
            }
        }
        return null;
    }

    /** Number of tensors this scope will close. */
    public int size() {
        return owned.size();
    }

    static void register(Tensor t) {
        ArrayDeque<Scope> stack = STACK.get();
        Scope s = stack.peek();
        if (s != null) {
            s.adopt(t);
        }
    }

    /** Takes {@code t} out of whatever scope owns it: its lifetime is now its holder's. */
    public static void detach(Tensor t) {
        Scope s = t.owner;
        if (s != null) {
            s.owned.remove(t);
            t.owner = null;
        }
    }

    private void adopt(Tensor t) {
        owned.add(t);
        t.owner = this;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("a Scope must be closed on the thread that opened it (" + thread.getName() + ")");
        }
        closed = true;
        STACK.get().remove(this);
        List<Tensor> toClose = new ArrayList<>(owned);
        owned.clear();
        for (Tensor t : toClose) {
            t.owner = null;
            t.closeByScope(site);
        }
    }
}
