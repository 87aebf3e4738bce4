package dev.backprop4j.spark;

import dev.backprop4j.distributed.RingCollective;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Data-parallel training on Apache Spark, as XGBoost4J-Spark and TorchDistributor do it: one barrier stage with one
 * long-running task per rank (Spark starts them all together, or none), a rendezvous through the barrier's
 * {@code allGather} (each task's ring address), then a {@link RingCollective} all-reduce between the tasks, outside
 * Spark. If a task fails, Spark starts the whole stage again, and every rank resumes from the last checkpoint.
 * Spark 4 (Scala 2.13) is a provided dependency: the jar does not carry it, and nothing else in the library needs it.
 *
 * <pre>spark-submit --class dev.backprop4j.spark.SparkTrain backprop4j.jar --workers 2 --epochs 5</pre>
 */
public final class SparkTrain {
    private SparkTrain() {
    }

    public static void main(String[] args) {
        SparkTrainOptions o = new SparkTrainOptions();
        CommandLine cl = new CommandLine(o);
        try {
            cl.parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
        if (cl.isUsageHelpRequested()) {
            cl.usage(System.out);
            return;
        }
        try {
            o.job(); // the options' errors before Spark starts
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
        SparkSession spark = SparkSession.builder().appName("backprop4j data-parallel training").getOrCreate();
        try {
            run(spark, o).forEach(System.out::println);
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(e instanceof IllegalArgumentException ? 2 : 1);
        } catch (Exception e) { // a failed stage: the first task's error (TaskFailures), or Spark's own exception
            String m = e.getMessage();
            System.err.println("error: " + (m != null && m.startsWith("the training stage failed: ")
                    ? m.lines().findFirst().orElse(m) : "the training stage failed: " + rootCause(e)));
            System.exit(1);
        } finally {
            spark.stop();
        }
    }

    /** The first line of the innermost cause's message (Spark's carry the task's stack trace after it). */
    static String rootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.toString() : root.getMessage();
        return message.lines().findFirst().orElse(root.getClass().getName());
    }

    /** Runs the training as one barrier stage on {@code spark}; returns rank 0's report lines. */
    public static List<String> run(SparkSession spark, SparkTrainOptions o) {
        SparkTrainOptions.Job job = o.job();
        int n = o.workers != null ? o.workers : spark.sparkContext().defaultParallelism();
        if (n < 1 || job.spec().batch() < n) {
            throw new IllegalArgumentException("need --workers >= 1 and --batch >= --workers; got " + n + " and "
                    + job.spec().batch());
        }
        DriverChecks.run(spark.sparkContext(), n, job);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<Integer> ranks = IntStream.range(0, n).boxed().toList();
        // The barrier stage feeds a shuffle (repartition): Spark restarts a failed barrier stage only when it is a
        // shuffle-map stage; a failed barrier result stage aborts the job.
        Object lines = TaskFailures.run(spark.sparkContext(), "the training stage", () -> jsc.parallelize(ranks, n)
                .rdd().barrier().mapPartitions(new RankTask(job), false, ClassTag$.MODULE$.apply(String.class))
                .repartition(1, scala.math.Ordering.String$.MODULE$).collect());
        return new ArrayList<>(Arrays.asList((String[]) lines));
    }

    /** One rank: {@link BarrierRank}'s rendezvous, ring and device, then {@link RankTraining}. */
    private static final class RankTask extends AbstractFunction1<Iterator<Integer>, Iterator<String>>
            implements Serializable {
        private static final long serialVersionUID = 1L;
        private final SparkTrainOptions.Job job;

        RankTask(SparkTrainOptions.Job job) {
            this.job = job;
        }

        @Override
        public Iterator<String> apply(Iterator<Integer> unused) {
            List<String> out = BarrierRank.run(job, (ring, device, attempt) -> RankTraining.run(job, ring, device,
                    attempt));
            return CollectionConverters.asScala(out.iterator());
        }
    }
}
