package dev.backprop4j.spark;

import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import scala.jdk.javaapi.CollectionConverters;

import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The first task error of a training stage, for the driver's message: a failed barrier stage reaches the driver as
 * "barrier task ... finished unsuccessfully", without the task's exception, which only the executor's log holds.
 * While open, this listener keeps the first exception (class and message) of a task in a stage of the jobs of one
 * job group (the fit's: other jobs of the context, a CrossValidator's other fits say, are not its concern);
 * {@link #explain} makes it the message of the exception the driver throws.
 */
final class TaskFailures extends SparkListener implements AutoCloseable {
    /** The local property of Spark's job group (SparkContext.SPARK_JOB_GROUP_ID). */
    private static final String JOB_GROUP = "spark.jobGroup.id";
    /** How long {@link #explain} waits for the task's failure event, which Spark delivers asynchronously. */
    private static final long EVENT_WAIT_MILLIS = 2_000;

    private final SparkContext sc;
    private final String group;
    private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
    private volatile String first;

    private TaskFailures(SparkContext sc, String group) {
        this.sc = sc;
        this.group = group;
    }

    /** Starts listening to the tasks of {@code sc}'s jobs in job group {@code group}. */
    static TaskFailures watch(SparkContext sc, String group) {
        TaskFailures f = new TaskFailures(sc, group);
        sc.addSparkListener(f);
        return f;
    }

    /**
     * Runs {@code jobs} (the Spark jobs of {@code what}, "the training stage") in a job group of their own and returns
     * what they return; if they fail, throws {@link #explain}'s exception: "{@code what} failed: " and the first
     * task's error. The thread's outer job group is restored after.
     */
    static <T> T run(SparkContext sc, String what, Supplier<T> jobs) {
        String group = "backprop4j " + UUID.randomUUID();
        String outer = sc.getLocalProperty(JOB_GROUP);
        sc.setLocalProperty(JOB_GROUP, group);
        try (TaskFailures failures = watch(sc, group)) {
            try {
                return jobs.get();
            } catch (Exception e) { // Spark's SparkException, undeclared
                throw failures.explain(what, e);
            }
        } finally {
            sc.setLocalProperty(JOB_GROUP, outer);
        }
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        if (start.properties() != null && group.equals(start.properties().getProperty(JOB_GROUP))) {
            for (Object id : CollectionConverters.asJava(start.stageIds())) {
                stages.add((Integer) id);
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (first == null && stages.contains(end.stageId()) && end.reason() instanceof ExceptionFailure failure) {
            first = failure.className() + ": " + failure.description();
        }
    }

    /**
     * {@code stageFailure} as {@code what} failed because of the first task error ("the training stage failed:
     * java.lang.IllegalArgumentException: ..."), the stage's own exception as its cause; or the stage's exception
     * itself when no task failed with an exception (a lost executor, say).
     */
    RuntimeException explain(String what, Exception stageFailure) {
        long deadline = System.currentTimeMillis() + EVENT_WAIT_MILLIS;
        while (first == null && System.currentTimeMillis() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
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
