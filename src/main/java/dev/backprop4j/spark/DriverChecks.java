package dev.backprop4j.spark;

import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Mnist;
import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.train.RunSpec;
import org.apache.spark.SparkContext;
import org.apache.spark.resource.ResourceProfile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * What the driver checks before it starts the barrier stage, so that a mistake that no retry can mend fails the job
 * within seconds, in one line naming the option, instead of a stage Spark starts four times (retraining the whole run
 * each time) or waits ten minutes to schedule: enough task slots for {@code --workers} at once, the data there, the
 * outputs writable, and a checkpoint (if one exists) of this very run.
 */
final class DriverChecks {
    /** How long the driver waits for executors to register before it counts the slots. */
    static final long SLOT_WAIT_MILLIS = 30_000;

    private DriverChecks() {
    }

    /** All of them; throws IllegalArgumentException naming the option. */
    static void run(SparkContext sc, int workers, SparkTrainOptions.Job job) {
        requireSlots(sc, workers);
        requireData(job.spec().data());
        try {
            if (job.save() != null) {
                AtomicFile.checkWritable(Path.of(job.save()), 0, "--save");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        requireCheckpoint(job.checkpoint(), job.spec(), "--checkpoint");
    }

    /**
     * Fails, naming {@code option}, unless {@code checkpoint} (null: none) can be written and, when it exists, was
     * written by a run of {@code spec}.
     */
    static void requireCheckpoint(String checkpoint, RunSpec spec, String option) {
        if (checkpoint == null) {
            return;
        }
        try {
            Path ckpt = Path.of(checkpoint);
            AtomicFile.checkWritable(ckpt, 0, option, true);
            if (Files.exists(ckpt)) {
                RankTraining.checkSameRun(ckpt, spec, option);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A barrier stage runs all its tasks at once or not at all: fails unless the cluster offers {@code workers} task
     * slots (its executors' cores over spark.task.cpus), waiting a while for executors that are still registering.
     */
    static void requireSlots(SparkContext sc, int workers) {
        ResourceProfile profile = sc.resourceProfileManager().defaultResourceProfile();
        long deadline = System.currentTimeMillis() + SLOT_WAIT_MILLIS;
        int slots = sc.maxNumConcurrentTasks(profile);
        while (slots < workers && System.currentTimeMillis() < deadline && !sc.isLocal()) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            slots = sc.maxNumConcurrentTasks(profile);
        }
        if (slots < workers) {
            throw new IllegalArgumentException("--workers " + workers + " needs " + workers + " task slots at once "
                    + "(one barrier task per rank), and " + sc.master() + " offers " + slots + " (its executors' "
                    + "cores over spark.task.cpus); ask for at most " + slots + " workers, or for more executors");
        }
    }

    private static void requireData(DataSource data) {
        if (data == null || data.path() == null) {
            return;
        }
        Path p = Path.of(data.path());
        String missing = null;
        if (data.kind() == DataSource.Kind.MNIST) {
            try {
                Mnist.files(p);
            } catch (NoSuchFileException e) {
                missing = "--data " + p + ": " + e.getMessage() + " is missing";
            }
        } else if (!Files.isReadable(p)) {
            missing = "--csv " + p + ": no such readable file";
        }
        if (missing != null) {
            throw new IllegalArgumentException(missing + " here on the driver (every executor reads it from the same "
                    + "path)");
        }
    }
}
