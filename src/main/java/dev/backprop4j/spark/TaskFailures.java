package dev.backprop4j.spark;

import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * The first task error of a training stage, for the driver's message: a failed barrier stage reaches the driver as
 * "barrier task ... finished unsuccessfully", without the task's exception, which only the executor's log holds.
 * While open, this listener keeps the first failed task's exception class and message; {@link #explain} makes them
 * the message of the exception the driver throws.
 */
final class TaskFailures extends SparkListener implements AutoCloseable {
    private final SparkContext sc;
    private volatile String first;

    private TaskFailures(SparkContext sc) {
        this.sc = sc;
    }

    /** Starts listening to {@code sc}'s tasks. */
    static TaskFailures watch(SparkContext sc) {
        TaskFailures f = new TaskFailures(sc);
        sc.addSparkListener(f);
        return f;
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (first == null && end.reason() instanceof ExceptionFailure failure) {
            first = failure.className() + ": " + failure.description();
        }
    }

    /**
     * {@code stageFailure} as {@code what} failed because of the first task error ("the training stage failed:
     * java.lang.IllegalArgumentException: ..."), the stage's own exception as its cause; or the stage's exception
     * itself when no task failed with an exception (a lost executor, say).
     */
    RuntimeException explain(String what, Exception stageFailure) {
        if (first == null) {
            return stageFailure instanceof RuntimeException r ? r : new IllegalStateException(stageFailure);
        }
        return new IllegalStateException(what + " failed: " + first, stageFailure);
    }

    @Override
    public void close() {
        sc.removeSparkListener(this);
    }
}
