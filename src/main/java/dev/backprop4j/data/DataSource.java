package dev.backprop4j.data;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Where a data set comes from, as a value that can be stored and shipped (to Spark's tasks, into a
 * checkpoint's run description): the 10,000-digit MNIST subset embedded in the jar, a folder of the standard MNIST
 * files, a CSV file of numeric features with an integer label column (negative counts from the end), or a table
 * (a CSV with a header, categorical columns among its features and labels of any values, {@link TabularCsv}), whose
 * label column may instead be a number to predict (a regression table).
 * {@link #load} reads it as a train/test split: MNIST's own, or the rows shuffled with the split seed, 80% for
 * training.
 */
public record DataSource(Kind kind, String path, int labelColumn, String categorical) implements Serializable {

    /** The kinds of source. */
    public enum Kind { EMBEDDED_MNIST, MNIST, CSV, TABLE, REGRESSION_TABLE }

    /** The share of a CSV's rows that {@link #load} puts in the training set. */
    public static final double CSV_TRAIN_FRACTION = 0.8;

    public DataSource {
        if (kind == null || (kind == Kind.EMBEDDED_MNIST) != (path == null)
                || (kind == Kind.TABLE || kind == Kind.REGRESSION_TABLE) != (categorical != null)) {
            throw new IllegalArgumentException("DataSource: " + kind + " with path " + path + " and categorical "
                    + categorical);
        }
    }

    /** A source of a kind other than a table. */
    public DataSource(Kind kind, String path, int labelColumn) {
        this(kind, path, labelColumn, null);
    }

    /** The MNIST subset embedded in the jar. */
    public static DataSource embeddedMnist() {
        return new DataSource(Kind.EMBEDDED_MNIST, null, 0);
    }

    /** A folder of the four standard MNIST files (plain or .gz). */
    public static DataSource mnist(Path dir) {
        return new DataSource(Kind.MNIST, dir.toString(), 0);
    }

    /** A CSV file of numeric features and an integer label in column {@code labelColumn} (-1: the last). */
    public static DataSource csv(Path file, int labelColumn) {
        return new DataSource(Kind.CSV, file.toString(), labelColumn);
    }

    /**
     * A table: a CSV file with a header, the label in {@code labelColumn} (-1: the last), the columns {@code
     * categorical} names (0-based numbers or header names, comma-separated; may be empty) categorical.
     */
    public static DataSource table(Path file, int labelColumn, String categorical) {
        return new DataSource(Kind.TABLE, file.toString(), labelColumn, categorical);
    }

    /** A table as {@link #table} reads it, whose label column holds the numbers to predict (regression). */
    public static DataSource regressionTable(Path file, int targetColumn, String categorical) {
        return new DataSource(Kind.REGRESSION_TABLE, file.toString(), targetColumn, categorical);
    }

    /** Whether the rows' targets are numbers to predict rather than classes. */
    public boolean isRegression() {
        return kind == Kind.REGRESSION_TABLE;
    }

    /** The same source with its path absolute (as this process resolves it), for processes elsewhere. */
    public DataSource absolute() {
        return path == null ? this : new DataSource(kind, Path.of(path).toAbsolutePath().normalize().toString(),
                labelColumn, categorical);
    }

    /** Whether the rows are MNIST's 28 x 28 images (which can be drawn). */
    public boolean isMnist() {
        return kind == Kind.EMBEDDED_MNIST || kind == Kind.MNIST;
    }

    /** The train and test sets; a CSV's split is drawn from {@code splitSeed}. */
    public Dataset.Split load(long splitSeed) throws IOException {
        return load(splitSeed, null);
    }

    /**
     * The train and test sets, a table's encoded with {@code encoding} (a model's, to score rows as it was trained)
     * rather than one fitted on its training rows; null: fitted.
     */
    public Dataset.Split load(long splitSeed, TabularEncoding encoding) throws IOException {
        return switch (kind) {
            case EMBEDDED_MNIST -> Mnist.embedded();
            case MNIST -> Mnist.load(Path.of(path));
            case CSV -> Csv.read(Path.of(path), labelColumn).split(CSV_TRAIN_FRACTION, splitSeed, path);
            case TABLE, REGRESSION_TABLE -> TabularCsv.read(Path.of(path), labelColumn, categorical, isRegression(),
                    CSV_TRAIN_FRACTION, splitSeed, encoding);
        };
    }

    /** "embedded MNIST subset", the folder, or the CSV file with its label column. */
    public String describe() {
        return switch (kind) {
            case EMBEDDED_MNIST -> "embedded MNIST subset";
            case MNIST -> path;
            case CSV -> labelColumn == -1 ? path : path + " (label column " + labelColumn + ")";
            case TABLE, REGRESSION_TABLE -> path + (labelColumn == -1 ? "" : (isRegression() ? " (target column "
                    : " (label column ") + labelColumn + ")") + (isRegression() ? " (regression)" : "")
                    + (categorical.isBlank() ? "" : " (categorical " + categorical + ")");
        };
    }
}
