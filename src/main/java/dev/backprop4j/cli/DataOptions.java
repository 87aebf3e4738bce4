package dev.backprop4j.cli;

import dev.backprop4j.data.Csv;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.Mnist;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.nio.file.Path;

/** Where the data comes from: the embedded MNIST subset (default), a folder of MNIST files, or a CSV file. */
final class DataOptions {
    @Option(names = "--data", paramLabel = "DIR",
            description = "Folder with the standard MNIST files (train-images-idx3-ubyte[.gz], ...). Default: the embedded 10,000-digit subset.")
    Path dataDir;

    @Option(names = "--csv", paramLabel = "FILE",
            description = "CSV of numeric feature columns and an integer label column; 80%% train, 20%% test (split "
                    + "by --seed, which the saved model remembers).")
    Path csv;

    @Option(names = "--label-column", paramLabel = "N",
            description = "Label column of --csv, 0-based; negative counts from the end (default: -1, the last).")
    Integer labelColumn;

    /** The train and test sets, and a short description of the source. */
    record Loaded(Dataset.Split split, String source) {
    }

    /** Whether the data are images of MNIST's layout (the embedded subset or --data), which predict can draw. */
    boolean isMnist() {
        return csv == null;
    }

    /** Usage errors: --data with --csv, or --label-column without --csv. */
    void check(CommandSpec spec) {
        if (dataDir != null && csv != null) {
            throw new ParameterException(spec.commandLine(), "give either --data or --csv, not both");
        }
        if (labelColumn != null && csv == null) {
            throw new ParameterException(spec.commandLine(), "--label-column applies to --csv, which is not given");
        }
    }

    /**
     * The data, with a CSV file split 80/20 after a shuffle seeded by {@code splitSeed}.
     *
     * @throws ParameterException for the usage errors of {@link #check}
     */
    Loaded load(CommandSpec spec, long splitSeed) throws IOException {
        check(spec);
        if (csv != null) {
            return new Loaded(Csv.read(csv, labelColumn == null ? -1 : labelColumn).split(0.8, splitSeed, csv.toString()),
                    csv.toString());
        }
        if (dataDir != null) {
            return new Loaded(Mnist.load(dataDir), dataDir.toString());
        }
        return new Loaded(Mnist.embedded(), "embedded MNIST subset");
    }
}
