package dev.backprop4j;

import dev.backprop4j.tensor.Scope;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Opens a {@link Scope} before each test and closes it after, so every tensor the test makes on its thread is freed
 * when it ends, pass or fail; models, optimizers and trainers (whose tensors leave scopes) are closed too when the
 * test hands them to {@link #closeAfter}. GPU tests use it: device memory is not the garbage collector's to manage,
 * and one test's leftovers must not show up in the next one's memory counts.
 */
public final class ScopePerTest implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(ScopePerTest.class);
    private static final ThreadLocal<Deque<AutoCloseable>> OWNED = ThreadLocal.withInitial(ArrayDeque::new);

    /** Closes {@code c} when the test that runs now ends (the last handed over first); returns it. */
    public static <T extends AutoCloseable> T closeAfter(T c) {
        OWNED.get().push(c);
        return c;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NAMESPACE).put("scope", Scope.open());
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Deque<AutoCloseable> owned = OWNED.get();
        while (!owned.isEmpty()) {
            owned.pop().close();
        }
        Scope scope = context.getStore(NAMESPACE).remove("scope", Scope.class);
        if (scope != null) {
            scope.close();
        }
    }
}
