package dev.backprop4j.spark;

import dev.backprop4j.nn.Norm;
import dev.backprop4j.cli.DataOptions;
import dev.backprop4j.cli.TrainingOptions;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.train.RunSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.Serializable;
import java.nio.file.Path;

/**
 * The options of {@link SparkTrain}: the data and the run from the {@code train} command's own option groups
 * ({@link DataOptions}, {@link TrainingOptions}), and what only Spark needs. The batch is the global one: each of the
 * {@code --workers} tasks trains on its share of every batch. Parsed on the driver, which ships a {@link Job} to
 * the tasks.
 */
@Command(name = "backprop4j-spark", mixinStandardHelpOptions = true,
        description = "Data-parallel training of an MLP classifier in one Spark barrier stage.")
public final class SparkTrainOptions {

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    TrainingOptions training = new TrainingOptions();

    @Option(names = "--workers", description = "Ranks, one barrier task each (default: Spark's default parallelism).")
    Integer workers;

    @Option(names = "--checkpoint", paramLabel = "FILE", description = "Written by rank 0 after every epoch and read "
            + "by every rank when the stage starts again (after a failure): a path on storage all executors share.")
    Path checkpoint;

    @Option(names = "--save", paramLabel = "FILE", description = "The trained model, written by rank 0.")
    Path save;

    @Option(names = "--check-every", defaultValue = "50", description = "Steps between checks that the ranks agree.")
    int checkEvery;

    @Option(names = "--connect-timeout", defaultValue = "300", description = "Seconds a rank waits for its neighbours.")
    int timeoutSeconds;

    @Option(names = "--device", defaultValue = "auto", description = "auto (the GPU Spark gives the task when its GPU "
            + "scheduling is on, else the CPU), cpu, or cuda (the task's GPU, required) (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--fail-at", paramLabel = "RANK:STEP", hidden = true,
            description = "Fault injection for tests: this rank fails at this step (or at 'save') in the stage's "
                    + "first attempt.")
    String failAt;

    /**
     * What every task needs, made on the driver: the run (its data source and output paths absolute, as the driver
     * sees them) and the Spark settings.
     */
    public record Job(RunSpec spec, String checkpoint, String save, int checkEvery, int timeoutSeconds, String device,
                      String failAt) implements Serializable {
        /** This job on {@code fitted}, the same run fitted to its data. */
        Job with(RunSpec fitted) {
            return new Job(fitted, checkpoint, save, checkEvery, timeoutSeconds, device, failAt);
        }
    }

    /**
     * The job these options describe.
     *
     * @throws IllegalArgumentException naming the option whose value is wrong
     */
    Job job() {
        return job(data.source().absolute());
    }

    /** The job of these options on {@code source} (null: the rows of a DataFrame, {@link MlpClassifier}'s). */
    Job job(DataSource source) {
        if (!device.matches("auto|cpu|cuda")) {
            throw new IllegalArgumentException("--device must be auto, cpu or cuda (each task takes the GPU Spark gives "
                    + "it), got '" + device + "'");
        }
        var spec = training.spec(source);
        if (source != null && source.isRegression()) {
            throw new IllegalArgumentException("--task regress: regression trains in the train command, not on Spark "
                    + "yet");
        }
        if (spec.plan().valFraction() > 0) {
            throw new IllegalArgumentException("--val-fraction and --patience: early stopping runs in the train "
                    + "command, not on Spark yet");
        }
        if (spec.architecture().norm() == dev.backprop4j.nn.Norm.BATCH) {
            throw new IllegalArgumentException("--norm batch: each rank would normalise with its own share of the "
                    + "batch (no synchronised batch norm yet), so the ranks would not train as one process; use --norm "
                    + "layer");
        }
        return new Job(spec, absolute(checkpoint), absolute(save), checkEvery, timeoutSeconds, device, failAt);
    }

    private static String absolute(Path p) {
        return p == null ? null : p.toAbsolutePath().normalize().toString();
    }
}
