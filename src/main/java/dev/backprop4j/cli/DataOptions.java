package dev.backprop4j.cli;

import dev.backprop4j.data.DataSource;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.nio.file.Path;

/**
 * Where the data comes from, one picocli option group shared by the commands and the Spark entry point: the
 * embedded MNIST subset (the default), a folder of MNIST files, or a CSV file.
 */
public final class DataOptions {
    @Option(names = "--data", paramLabel = "DIR",
            description = "Folder with the standard MNIST files (train-images-idx3-ubyte[.gz], ...). Default: the embedded 10,000-digit subset.")
    Path dataDir;

    @Option(names = "--csv", paramLabel = "FILE",
            description = "CSV of numeric feature columns and an integer label column; 80%% train, 20%% test (split "
                    + "by --seed, which the saved model remembers).")
    Path csv;

    @Option(names = "--categorical", paramLabel = "COLS",
            description = "Read --csv as a table: a header line, these columns (0-based numbers or header names, "
                    + "comma-separated; may be empty) categorical and embedded, the other features standardised, "
                    + "labels of any values; the encoding is fitted on the training rows and kept in the model.")
    String categorical;

    @Option(names = "--task", paramLabel = "TASK", description = "classify (the label column holds classes), or "
            + "regress (it holds the numbers to predict: a table as --categorical reads it, trained on the mean squared "
            + "error of the standardised target, scored by RMSE) (default: classify).")
    String task;

    @Option(names = {"--label-column", "--target-column"}, paramLabel = "N",
            description = "Label (target) column of --csv, 0-based; negative counts from the end (default: -1, the "
                    + "last).")
    Integer labelColumn;

    /** Whether any data option was given. */
    boolean given() {
        return dataDir != null || csv != null || categorical != null || task != null;
    }

    /** {@link #source()}, its errors as usage errors of the command {@code cmd} (exit code 2). */
    DataSource source(CommandSpec cmd) {
        try {
            return source();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(cmd.commandLine(), e.getMessage());
        }
    }

    /**
     * The source these options name.
     *
     * @throws IllegalArgumentException for --data with --csv, or --label-column without --csv
     */
    public DataSource source() {
        if (dataDir != null && csv != null) {
            throw new IllegalArgumentException("give either --data or --csv, not both");
        }
        if (labelColumn != null && csv == null) {
            throw new IllegalArgumentException("--label-column applies to --csv, which is not given");
        }
        if (categorical != null && csv == null) {
            throw new IllegalArgumentException("--categorical applies to --csv, which is not given");
        }
        boolean regress = task != null && switch (task) {
            case "classify" -> false;
            case "regress" -> true;
            default -> throw new IllegalArgumentException("--task must be classify or regress, got '" + task + "'");
        };
        if (regress && csv == null) {
            throw new IllegalArgumentException("--task regress applies to --csv, which is not given");
        }
        if (csv != null) {
            int label = labelColumn == null ? -1 : labelColumn;
            return regress ? DataSource.regressionTable(csv, label, categorical == null ? "" : categorical)
                    : categorical == null ? DataSource.csv(csv, label) : DataSource.table(csv, label, categorical);
        }
        return dataDir != null ? DataSource.mnist(dataDir) : DataSource.embeddedMnist();
    }
}
