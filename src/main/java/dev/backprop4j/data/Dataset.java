package dev.backprop4j.data;

import java.util.Arrays;

/**
 * An in-memory classification data set: n samples of {@code features} floats each (row-major in one
 * array) and an integer class label per sample in [0, classes).
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
    private final int features;
    private final int classes;

    public Dataset(float[] x, int[] y, int features, int classes) {
        if (features <= 0 || x.length != (long) y.length * features) {
            throw new IllegalArgumentException("Dataset: " + x.length + " feature values do not make " + y.length
                    + " samples of " + features);
        }
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= classes) {
                throw new DataFormatException("Dataset: label " + y[i] + " of sample " + i + " is outside [0, "
                        + classes + ")");
            }
        }
        this.x = x;
        this.y = y;
        this.features = features;
        this.classes = classes;
    }

    public int size() {
        return y.length;
    }

    public int features() {
        return features;
    }

    public int classes() {
        return classes;
    }

    /** How many different labels the samples have. */
    public int distinctLabels() {
        return (int) Arrays.stream(y).distinct().count();
    }

    /** Features of sample i (a copy). */
    public float[] sample(int i) {
        return Arrays.copyOfRange(x, i * features, (i + 1) * features);
    }

    public int label(int i) {
        return y[i];
    }

    /** Copies the samples listed in {@code indices[from..to)} into xOut (row-major) and yOut. */
    void gather(int[] indices, int from, int to, float[] xOut, int[] yOut) {
        for (int i = from; i < to; i++) {
            int s = indices[i];
            System.arraycopy(x, s * features, xOut, (i - from) * features, features);
            yOut[i - from] = y[s];
        }
    }

    /** The first {@code n} samples, or all of them. */
    public Dataset head(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("Dataset.head: n must be >= 0, got " + n);
        }
        int m = Math.min(n, size());
        return new Dataset(Arrays.copyOf(x, m * features), Arrays.copyOf(y, m), features, classes);
    }

    /** Samples [from, to). */
    public Dataset range(int from, int to) {
        if (from < 0 || from > to || to > size()) {
            throw new IllegalArgumentException("Dataset.range: [" + from + ", " + to + ") is not within the "
                    + size() + " samples");
        }
        return new Dataset(Arrays.copyOfRange(x, from * features, to * features), Arrays.copyOfRange(y, from, to),
                features, classes);
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
        int[] ys = new int[size()];
        gather(idx, 0, size(), xs, ys);
        Dataset all = new Dataset(xs, ys, features, classes);
        return new Split(all.range(0, train), all.range(train, size()));
    }
}
