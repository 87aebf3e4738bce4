package dev.backprop4j.data;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * An in-memory data set: n samples of {@code features} floats each (row-major in one array) and per sample either
 * an integer class label in [0, classes) or, for regression ({@link #regression}), a float target.
 */
public final class Dataset {

    /**
     * A training set and a test set of the same features and classes, and, for a table read by {@link TabularCsv},
     * the encoding that made their features (else null).
     */
    public record Split(Dataset train, Dataset test, TabularEncoding encoding) {
        public Split(Dataset train, Dataset test) {
            this(train, test, null);
        }
    }

    private final float[] x;
    private final int[] y;
    /** Regression targets, or null (a classification set, labels in y). */
    private final float[] targets;
    private final int features;
    private final int classes;

    public Dataset(float[] x, int[] y, int features, int classes) {
        this(x, y, null, features, classes);
    }

    private Dataset(float[] x, int[] y, float[] targets, int features, int classes) {
        int n = targets != null ? targets.length : y.length;
        if (features <= 0 || x.length != (long) n * features) {
            throw new IllegalArgumentException("Dataset: " + x.length + " feature values do not make " + n
                    + " samples of " + features);
        }
        if (targets != null) {
            this.x = x;
            this.y = null;
            this.targets = targets;
            this.features = features;
            this.classes = 0;
            return;
        }
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= classes) {
                throw new DataFormatException("Dataset: label " + y[i] + " of sample " + i + " is outside [0, "
                        + classes + ")");
            }
        }
        this.x = x;
        this.y = y;
        this.targets = null;
        this.features = features;
        this.classes = classes;
    }

    /** A regression set: a float target per sample (for the model's one output). */
    public static Dataset regression(float[] x, float[] targets, int features) {
        return new Dataset(x, null, targets, features, 0);
    }

    /** Whether the samples have float targets (regression) rather than class labels. */
    public boolean isRegression() {
        return targets != null;
    }

    public int size() {
        return targets != null ? targets.length : y.length;
    }

    public int features() {
        return features;
    }

    /** The number of classes (0 for a regression set). */
    public int classes() {
        return classes;
    }

    /** How many different labels (targets) the samples have. */
    public int distinctLabels() {
        return targets != null ? (int) IntStream.range(0, targets.length).mapToDouble(i -> targets[i]).distinct().count()
                : (int) Arrays.stream(y).distinct().count();
    }

    /** Features of sample i (a copy). */
    public float[] sample(int i) {
        return Arrays.copyOfRange(x, i * features, (i + 1) * features);
    }

    /** The class label of sample i (of a classification set). */
    public int label(int i) {
        if (y == null) {
            throw new IllegalStateException("Dataset: a regression set has targets, not labels");
        }
        return y[i];
    }

    /** The target of sample i (of a regression set). */
    public float target(int i) {
        if (targets == null) {
            throw new IllegalStateException("Dataset: a classification set has labels, not targets");
        }
        return targets[i];
    }

    /**
     * Copies the samples listed in {@code indices[from..to)} into xOut (row-major) and their labels into yOut or,
     * for a regression set, their targets into tOut.
     */
    void gather(int[] indices, int from, int to, float[] xOut, int[] yOut, float[] tOut) {
        for (int i = from; i < to; i++) {
            int s = indices[i];
            System.arraycopy(x, s * features, xOut, (i - from) * features, features);
            if (targets != null) {
                tOut[i - from] = targets[s];
            } else {
                yOut[i - from] = y[s];
            }
        }
    }

    /** The first {@code n} samples, or all of them. */
    public Dataset head(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("Dataset.head: n must be >= 0, got " + n);
        }
        return range(0, Math.min(n, size()));
    }

    /** Samples [from, to). */
    public Dataset range(int from, int to) {
        if (from < 0 || from > to || to > size()) {
            throw new IllegalArgumentException("Dataset.range: [" + from + ", " + to + ") is not within the "
                    + size() + " samples");
        }
        return new Dataset(Arrays.copyOfRange(x, from * features, to * features),
                y == null ? null : Arrays.copyOfRange(y, from, to),
                targets == null ? null : Arrays.copyOfRange(targets, from, to), features, classes);
    }

    /** 0 .. n - 1 shuffled with {@code seed} (Fisher-Yates on SplittableRandom): the row order of {@link #split}. */
    static int[] shuffled(int n, long seed) {
        int[] idx = new int[n];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        for (int i = idx.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        return idx;
    }

    /**
     * A train/test split: the rows shuffled with {@code seed} (Fisher-Yates on SplittableRandom), the first
     * {@code trainFraction} of them for training, the rest for testing; {@code source} names the data in errors.
     */
    public Split split(double trainFraction, long seed, String source) {
        int[] idx = shuffled(size(), seed);
        int train = Math.max(1, (int) Math.round(size() * trainFraction));
        if (train >= size()) {
            throw new IllegalArgumentException(source + ": " + size() + " rows are too few to split into train and test");
        }
        float[] xs = new float[size() * features];
        int[] ys = targets == null ? new int[size()] : null;
        float[] ts = targets == null ? null : new float[size()];
        gather(idx, 0, size(), xs, ys, ts);
        Dataset all = new Dataset(xs, ys, ts, features, classes);
        return new Split(all.range(0, train), all.range(train, size()));
    }
}
