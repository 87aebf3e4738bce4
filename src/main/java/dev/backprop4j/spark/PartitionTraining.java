package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.distributed.Collective;
import dev.backprop4j.train.RunSpec;
import org.apache.spark.Dependency;
import org.apache.spark.NarrowDependency;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.util.DatasetUtils$;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Training fed by a DataFrame's partitions, both sides of {@link MlpClassifier#fit} and {@link MlpRegressor#fit}. On
 * the driver, {@link #fit} runs one barrier stage of one task per partition. Each task ({@link #run}) reads its own
 * partition's rows (a features vector and a label; one pass, held as float32, no other rank's rows), tells the other
 * ranks how many it has, and trains with them through {@link RankTraining#train} on a {@link DataLoader#partitioned}
 * loader: every rank the same number of steps, global batches made of every rank's slice, each rank's gradient
 * weighted by its rows. A regressor's targets are standardised with the mean and deviation over all ranks (an
 * all-reduce of their sums), which the model keeps. Rank 0 returns the trained state.
 */
final class PartitionTraining {
    private PartitionTraining() {
    }

    /**
     * What a rank sends back to the driver: its rank, the rows it trained on, its device, the steps of an epoch, the
     * targets' mean and standard deviation (a regressor's; else 0 and 1), and rank 0's report lines and the trained
     * model's state dict (name -> float[] or int[]; null on the other ranks).
     */
    record Result(int rank, int rows, String device, int steps, double targetMean, double targetStd,
                  List<String> report, LinkedHashMap<String, Object> state) implements Serializable {

        /** Java-serialised: a task's result is bytes, whatever spark.serializer is (Kryo may not rebuild a record). */
        byte[] bytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (ObjectOutputStream o = new ObjectOutputStream(out)) {
                o.writeObject(this);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return out.toByteArray();
        }

        static Result of(byte[] bytes) {
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
                return (Result) in.readObject();
            } catch (IOException | ClassNotFoundException e) {
                throw new IllegalStateException("a training task's result could not be read: " + e.getMessage(), e);
            }
        }
    }

    /** The stage's outcome: the run it trained (fitted to the data), the results by rank, the log's first line. */
    record Fitted(RunSpec spec, Result[] byRank, String workers) {
        Result first() {
            return byRank[0];
        }

        /** Rank 0's network, with the workers' rows and the log, and the model's own {@code metadata}. */
        TrainedMlp trained(Map<String, String> metadata) {
            List<String> log = new ArrayList<>(List.of(workers));
            log.addAll(byRank[0].report());
            return new TrainedMlp(spec, byRank[0].state(), log, Arrays.stream(byRank).mapToInt(Result::rows).toArray(),
                    metadata);
        }
    }

    /**
     * Runs the training stage of {@code who} (the estimator's name, for errors) on {@code dataset}'s {@code
     * featuresCol} and {@code labelCol}: the job's run fitted to the features' width and {@code outputs}, with {@code
     * workers} tasks (null: Spark's default parallelism), repartitioned to one partition per worker unless
     * its stage already has that many partitions throughout ({@link #ownStage}), a barrier stage feeding {@code
     * repartition(1)} (Spark runs a failed barrier stage again only when it is a shuffle-map stage), and the results
     * collected. A failed stage is reported by its first task's error ({@link TaskFailures}).
     */
    static Fitted fit(org.apache.spark.sql.Dataset<?> dataset, String featuresCol, String labelCol,
                      SparkTrainOptions.Job asked, int outputs, Integer numWorkers, boolean regression, String who) {
        SparkSession spark = dataset.sparkSession();
        RunSpec spec = asked.spec().fittedTo(DatasetUtils$.MODULE$.getNumFeatures(dataset, featuresCol), outputs);
        SparkTrainOptions.Job job = asked.with(spec);
        int workers = numWorkers != null ? numWorkers : spark.sparkContext().defaultParallelism();
        if (workers < 1 || job.spec().batch() < workers) {
            throw new IllegalArgumentException(who + ": need numWorkers >= 1 and batchSize >= numWorkers; got "
                    + workers + " and " + job.spec().batch());
        }
        DriverChecks.requireSlots(spark.sparkContext(), workers);
        DriverChecks.requireCheckpoint(job.checkpoint(), job.spec(), "checkpointPath");
        org.apache.spark.sql.Dataset<Row> selected = dataset.select(functions.col(featuresCol),
                functions.col(labelCol).cast(DataTypes.DoubleType));
        org.apache.spark.sql.Dataset<Row> rows = ownStage(selected.rdd(), workers) ? selected
                : selected.repartition(workers);
        Object collected = TaskFailures.run(spark.sparkContext(), who + ".fit: the training stage", () -> rows.rdd()
                .barrier().mapPartitions(new Task(job, regression, who), false, ClassTag$.MODULE$.apply(byte[].class))
                .repartition(1, null).collect());
        if (job.checkpoint() != null) { // the fit is done: a later fit must not resume from it
            try {
                Files.deleteIfExists(Path.of(job.checkpoint()));
            } catch (IOException e) {
                throw new UncheckedIOException(who + ".fit: trained, but could not delete the checkpoint "
                        + job.checkpoint() + ", which a later fit would resume: " + e.getMessage(), e);
            }
        }
        Result[] byRank = new Result[workers];
        for (byte[] bytes : (byte[][]) collected) {
            Result r = Result.of(bytes);
            byRank[r.rank()] = r;
        }
        StringBuilder sb = new StringBuilder(workers + " workers:");
        for (Result r : byRank) {
            sb.append(String.format(Locale.ROOT, " rank %d %d rows on %s;", r.rank(), r.rows(), r.device()));
        }
        return new Fitted(spec, byRank, sb.append(' ').append(byRank[0].steps()).append(" steps an epoch").toString());
    }

    /**
     * Whether {@code rdd} has {@code n} partitions, and so has every RDD it derives from within its stage (through
     * narrow dependencies, back to a shuffle or a source): what a barrier stage needs of its input (Spark refuses, say,
     * a union of smaller RDDs); else fit repartitions.
     */
    static boolean ownStage(RDD<?> rdd, int n) {
        if (rdd.getNumPartitions() != n) {
            return false;
        }
        for (Dependency<?> d : CollectionConverters.asJava(rdd.dependencies())) {
            if (d instanceof NarrowDependency<?> && !ownStage(d.rdd(), n)) {
                return false;
            }
        }
        return true;
    }

    /** One barrier task: {@link BarrierRank}'s ring and device, then {@link #run} on its rows. */
    private static final class Task extends AbstractFunction1<scala.collection.Iterator<Row>,
            scala.collection.Iterator<byte[]>> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final SparkTrainOptions.Job job;
        private final boolean regression;
        private final String who;

        Task(SparkTrainOptions.Job job, boolean regression, String who) {
            this.job = job;
            this.regression = regression;
            this.who = who;
        }

        @Override
        public scala.collection.Iterator<byte[]> apply(scala.collection.Iterator<Row> rows) {
            Result r = BarrierRank.run(job, (ring, device, attempt) -> run(job, CollectionConverters.asJava(rows),
                    regression, who, ring, device, attempt));
            return CollectionConverters.asScala(List.of(r.bytes()).iterator());
        }
    }

    /** One rank: reads its rows, agrees on the counts (and a regressor's target scale), trains. */
    static Result run(SparkTrainOptions.Job job, Iterator<Row> rows, boolean regression, String who, Collective comm,
                      Device device, int attempt) throws IOException {
        RunSpec spec = job.spec();
        int rank = comm.rank();
        Rows mine = read(rows, spec, regression, who, rank);
        double[] sums = new double[comm.size() + 1]; // every rank's rows, and the targets' sum
        sums[rank] = mine.n;
        for (int i = 0; i < mine.n && regression; i++) {
            sums[comm.size()] += mine.targets[i];
        }
        comm.allReduceSum(sums);
        int[] rowsPerRank = Arrays.stream(sums, 0, comm.size()).mapToInt(c -> (int) c).toArray();
        long total = Arrays.stream(rowsPerRank).asLongStream().sum();
        if (total == 0) {
            throw new IllegalArgumentException(who + ".fit: the DataFrame has no rows");
        }
        double mean = regression ? sums[comm.size()] / total : 0;
        double std = 1;
        if (regression) { // a second pass: the squared deviations from the mean, exact where E[t^2] - mean^2 is not
            double[] squares = new double[1];
            for (int i = 0; i < mine.n; i++) {
                squares[0] += (mine.targets[i] - mean) * (mine.targets[i] - mean);
            }
            comm.allReduceSum(squares);
            double deviation = Math.sqrt(squares[0] / total);
            std = deviation > 1e-12 * Math.max(1, Math.abs(mean)) ? deviation : 1; // a constant target: unscaled
        }
        int read = mine.n;
        Dataset data = mine.dataset(spec, regression, mean, std);
        mine = null; // only the data set's copy stays
        DataLoader share = DataLoader.partitioned(data, rowsPerRank, rank, spec.batch(), spec.seed(), device);
        List<String> report = new ArrayList<>();
        LinkedHashMap<String, Object> state = new LinkedHashMap<>();
        RankTraining.train(job, spec, share, comm, device, attempt, report, model -> {
            if (rank == 0) {
                state.putAll(TrainedMlp.stateOf(model));
            }
        });
        return new Result(rank, read, device.toString(), share.batches(), mean, std, rank == 0 ? report : List.of(),
                rank == 0 ? state : null);
    }

    /** A partition's rows as read: features row-major, and class indices or targets. */
    private static final class Rows {
        float[] x;
        int[] labels;
        double[] targets;
        int n;

        Dataset dataset(RunSpec spec, boolean regression, double mean, double std) {
            int features = spec.sizes()[0];
            float[] xs = x.length == n * features ? x : Arrays.copyOf(x, n * features);
            if (!regression) {
                return new Dataset(xs, Arrays.copyOf(labels, n), features, spec.sizes()[spec.sizes().length - 1]);
            }
            float[] t = new float[n];
            for (int i = 0; i < n; i++) {
                t[i] = (float) ((targets[i] - mean) / std);
            }
            return Dataset.regression(xs, t, features);
        }
    }

    /**
     * The partition's rows: column 0 the features (a vector of the model's input width), column 1 the label (a class
     * index, or a regressor's finite target, as a double). Held densely as float32, in arrays that start small and
     * double.
     *
     * @throws IllegalArgumentException naming the estimator, the partition, the row and what is wrong with it, or
     *                                  a partition too large for one array
     */
    private static Rows read(Iterator<Row> rows, RunSpec spec, boolean regression, String who, int partition) {
        int features = spec.sizes()[0];
        int classes = spec.sizes()[spec.sizes().length - 1];
        int capacity = (int) Math.max(16, Math.min(1024, (1 << 20) / features));
        Rows r = new Rows();
        r.x = new float[capacity * features];
        r.labels = new int[capacity];
        r.targets = new double[capacity];
        while (rows.hasNext()) {
            Row row = rows.next();
            String where = who + ".fit: partition " + partition + ", row " + r.n + ": ";
            if (row.isNullAt(0) || row.isNullAt(1)) {
                throw new IllegalArgumentException(where + "a null " + (row.isNullAt(0) ? "features vector" : "label"));
            }
            Vector v = row.getAs(0);
            double label = row.getDouble(1);
            if (v.size() != features) {
                throw new IllegalArgumentException(where + v.size() + " features; the model takes " + features
                        + " (the features column's metadata or first row)");
            }
            if (regression ? !Double.isFinite(label) : label != Math.rint(label) || label < 0 || label >= classes) {
                throw new IllegalArgumentException(where + "label " + label + (regression ? " is not a finite number"
                        : " is not a class index in [0, " + classes + ")"));
            }
            if (r.n == r.labels.length) {
                long grown = 2L * r.n;
                if (grown * features > Integer.MAX_VALUE - 8) {
                    throw new IllegalArgumentException(who + ".fit: partition " + partition + " holds more than "
                            + r.n + " rows of " + features + " features, more than one array of floats can; use more "
                            + "workers (numWorkers), so that each partition is smaller");
                }
                r.labels = Arrays.copyOf(r.labels, (int) grown);
                r.targets = Arrays.copyOf(r.targets, (int) grown);
                r.x = Arrays.copyOf(r.x, (int) grown * features);
            }
            int at = r.n * features;
            if (v instanceof SparseVector sparse) {
                int[] index = sparse.indices();
                double[] values = sparse.values();
                for (int k = 0; k < index.length; k++) {
                    r.x[at + index[k]] = (float) values[k];
                }
            } else {
                double[] values = ((DenseVector) v).values();
                for (int j = 0; j < features; j++) {
                    r.x[at + j] = (float) values[j];
                }
            }
            r.labels[r.n] = regression ? 0 : (int) label;
            r.targets[r.n++] = label;
        }
        return r;
    }
}
