package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.distributed.Collective;
import dev.backprop4j.train.RunSpec;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

/**
 * One rank of {@link MlpClassifier#fit}: reads its own partition's rows (a features vector and a label; one pass,
 * held as float32, no other rank's rows), tells the other ranks how many it has, and trains with them through
 * {@link RankTraining#train} on a {@link DataLoader#partitioned} loader: every rank the same number of steps, global
 * batches made of every rank's slice, each rank's gradient weighted by its rows. Rank 0 returns the trained state.
 */
final class PartitionTraining {
    private PartitionTraining() {
    }

    /**
     * What a rank sends back to the driver: its rank, the rows it trained on, its device, the steps of an epoch, and
     * rank 0's report lines and the trained model's state dict (name -> float[] or int[]; null on the other ranks).
     */
    record Result(int rank, int rows, String device, int steps, List<String> report,
                  LinkedHashMap<String, Object> state) implements Serializable {
    }

    static Result run(SparkTrainOptions.Job job, Iterator<Row> rows, Collective comm, Device device, int attempt)
            throws IOException {
        RunSpec spec = job.spec();
        Dataset mine = read(rows, spec, comm.rank());
        double[] counts = new double[comm.size()];
        counts[comm.rank()] = mine.size();
        comm.allReduceSum(counts);
        int[] rowsPerRank = Arrays.stream(counts).mapToInt(c -> (int) c).toArray();
        if (Arrays.stream(rowsPerRank).sum() == 0) {
            throw new IllegalArgumentException("MlpClassifier.fit: the DataFrame has no rows");
        }
        DataLoader share = DataLoader.partitioned(mine, rowsPerRank, comm.rank(), spec.batch(), spec.seed(), device);
        List<String> report = new ArrayList<>();
        LinkedHashMap<String, Object> state = new LinkedHashMap<>();
        RankTraining.train(job, spec, share, comm, device, attempt, report, model -> {
            if (comm.rank() == 0) {
                state.putAll(MlpClassificationModel.stateOf(model));
            }
        });
        boolean first = comm.rank() == 0;
        return new Result(comm.rank(), mine.size(), device.toString(), share.batches(), first ? report : List.of(),
                first ? state : null);
    }

    /** The line that opens a fit's log: every worker's rows and device, and the steps of an epoch. */
    static String describe(Result[] byRank) {
        StringBuilder sb = new StringBuilder(byRank.length + " workers:");
        for (Result r : byRank) {
            sb.append(String.format(Locale.ROOT, " rank %d %d rows on %s;", r.rank(), r.rows(), r.device()));
        }
        return sb.append(' ').append(byRank[0].steps()).append(" steps an epoch").toString();
    }

    /**
     * The partition's rows as a data set: column 0 the features (a vector of the model's input width), column 1 the
     * label (a class index, as a double).
     *
     * @throws IllegalArgumentException naming the partition, the row and what is wrong with it
     */
    static Dataset read(Iterator<Row> rows, RunSpec spec, int partition) {
        int features = spec.sizes()[0];
        int classes = spec.sizes()[spec.sizes().length - 1];
        float[] x = new float[features * 1024];
        int[] y = new int[1024];
        int n = 0;
        while (rows.hasNext()) {
            Row row = rows.next();
            String where = "MlpClassifier.fit: partition " + partition + ", row " + n + ": ";
            if (row.isNullAt(0) || row.isNullAt(1)) {
                throw new IllegalArgumentException(where + "a null " + (row.isNullAt(0) ? "features vector" : "label"));
            }
            Vector v = row.getAs(0);
            double label = row.getDouble(1);
            if (v.size() != features) {
                throw new IllegalArgumentException(where + v.size() + " features; the model takes " + features
                        + " (the first row's)");
            }
            if (label != Math.rint(label) || label < 0 || label >= classes) {
                throw new IllegalArgumentException(where + "label " + label + " is not a class index in [0, "
                        + classes + ")");
            }
            if (n == y.length) {
                y = Arrays.copyOf(y, 2 * n);
                x = Arrays.copyOf(x, 2 * n * features);
            }
            int at = n * features;
            if (v instanceof SparseVector sparse) {
                int[] index = sparse.indices();
                double[] values = sparse.values();
                for (int k = 0; k < index.length; k++) {
                    x[at + index[k]] = (float) values[k];
                }
            } else {
                double[] values = ((DenseVector) v).values();
                for (int j = 0; j < features; j++) {
                    x[at + j] = (float) values[j];
                }
            }
            y[n++] = (int) label;
        }
        return new Dataset(Arrays.copyOf(x, n * features), Arrays.copyOf(y, n), features, classes);
    }
}
