package dev.backprop4j.spark;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * The options of {@link SparkTrain}, shipped to every task: the data, the model, the optimizer and the run. The batch
 * is the global one: each of the {@code --workers} tasks trains on its share of every batch.
 */
@Command(name = "backprop4j-spark", mixinStandardHelpOptions = true,
        description = "Data-parallel training of an MLP classifier in one Spark barrier stage.")
public final class SparkTrainOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    @Option(names = "--workers", description = "Ranks, one barrier task each (default: Spark's default parallelism).")
    Integer workers;

    @Option(names = "--data", paramLabel = "DIR", description = "MNIST files (standard names, plain or .gz), on a path "
            + "every executor can read.")
    String data;

    @Option(names = "--csv", paramLabel = "FILE", description = "A CSV of numeric features and an integer label "
            + "(80/20 split by --seed), on a path every executor can read.")
    String csv;

    @Option(names = "--label-column", defaultValue = "-1", description = "The CSV's label column (default: the last).")
    int labelColumn;

    @Option(names = "--layers", defaultValue = "256,128", description = "Hidden layer sizes (default: ${DEFAULT-VALUE}).")
    String layers;

    @Option(names = "--activation", defaultValue = "relu", description = "relu, leaky_relu, sigmoid, tanh or gelu.")
    String activation;

    @Option(names = "--epochs", defaultValue = "10", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "Global batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.001", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--optimizer", defaultValue = "adam", description = "sgd (momentum 0.9), adam or adamw.")
    String optimizer;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of initialisation, shuffling and the split.")
    long seed;

    @Option(names = "--checkpoint", paramLabel = "FILE", description = "Written by rank 0 after every epoch and read "
            + "by every rank when the stage starts again (after a failure): a path on storage all executors share.")
    String checkpoint;

    @Option(names = "--save", paramLabel = "FILE", description = "The trained model, written by rank 0.")
    String save;

    @Option(names = "--check-every", defaultValue = "50", description = "Steps between checks that the ranks agree.")
    int checkEvery;

    @Option(names = "--connect-timeout", defaultValue = "300", description = "Seconds a rank waits for its neighbours.")
    int timeoutSeconds;

    @Option(names = "--fail-at", paramLabel = "RANK:STEP", hidden = true,
            description = "Fault injection for tests: this rank fails at this step in the stage's first attempt.")
    String failAt;

    Path checkpointPath() {
        return checkpoint == null ? null : Path.of(checkpoint);
    }
}
