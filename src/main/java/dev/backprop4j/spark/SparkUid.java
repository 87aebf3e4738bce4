package dev.backprop4j.spark;

import org.apache.spark.ml.util.Identifiable$;

/**
 * The uid of a Spark ML stage written in Java: Spark's constructors (Scala traits that create Params) ask for {@code
 * uid()} before the Java constructor's body runs, so a constructor given a uid hands it over through a thread-local
 * ({@link #hand}), and {@code uid()} keeps what its first call {@link #take}s.
 */
final class SparkUid {
    private static final ThreadLocal<String> CONSTRUCTING = new ThreadLocal<>();

    private SparkUid() {
    }

    /** What a constructor given {@code uid} passes to the constructor it delegates to, after handing the uid over. */
    static Handed hand(String uid) {
        CONSTRUCTING.set(uid);
        return Handed.INSTANCE;
    }

    /** The uid handed over to the stage under construction, or a new one with {@code prefix}. */
    static String take(String prefix) {
        String given = CONSTRUCTING.get();
        CONSTRUCTING.remove(); // taken once: a stage built later in this thread takes a new one
        return given != null ? given : Identifiable$.MODULE$.randomUID(prefix);
    }

    /** Ends the construction (should no uid() call have taken the handed uid): the next stage takes a new one. */
    static void done() {
        CONSTRUCTING.remove();
    }

    /** The marker of a constructor whose uid was handed over. */
    enum Handed { INSTANCE }
}
