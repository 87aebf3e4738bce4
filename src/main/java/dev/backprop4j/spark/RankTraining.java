package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.distributed.Collective;
import dev.backprop4j.distributed.DataParallel;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.train.Evaluation;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.Trainer;
import dev.backprop4j.train.TrainingCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one rank of a Spark training stage does, apart from Spark: builds the model, optimizer and schedule from the
 * job's {@link RunSpec}, lets rank 0 resume from the checkpoint when one exists (a stage started again after a
 * failure) and broadcast the state, runs the one {@link Trainer} with the {@link DataParallel} hook on this rank's
 * loader, and on rank 0 writes the checkpoint after every epoch. {@link #run} is {@link SparkTrain}'s rank, whose
 * data is a file every rank loads (each takes its share of every batch, so that together they see exactly the
 * batches one process would) and which ends by scoring the test rows and saving the model; {@code MlpClassifier}'s
 * ranks train on their partitions' rows ({@link PartitionTraining}) through {@link #train}.
 */
final class RankTraining {
    private RankTraining() {
    }

    /** What a rank does with the trained model before the stage's last barrier (rank 0 saves it, say). */
    @FunctionalInterface
    interface AtEnd {
        void accept(Sequential model) throws IOException;
    }

    /** {@link SparkTrain}'s rank: returns rank 0's report lines (other ranks return none). */
    static List<String> run(SparkTrainOptions.Job job, Collective comm, Device device, int attempt) throws IOException {
        RunSpec asked = job.spec();
        Dataset.Split data = asked.data().load(asked.seed());
        RunSpec spec = asked.fittedTo(data);
        Dataset train = spec.limit() == 0 ? data.train() : data.train().head(spec.limit());
        DataLoader share = new DataLoader(train, spec.batch(), true, spec.seed(), false, device)
                .shard(comm.rank(), comm.size());
        List<String> report = new ArrayList<>();
        train(job, spec, share, comm, device, attempt, report, model -> {
            Evaluation test = Evaluation.of(model, new DataLoader(data.test(), 1000, false, spec.seed(), false,
                    device));
            report.add(String.format(Locale.ROOT, "done: test accuracy %.2f%% after %d epochs on %d ranks",
                    100 * test.accuracy(), spec.epochs(), comm.size()));
            if (job.save() != null && comm.rank() == 0) {
                if (failsAt(job, comm, attempt, "save")) {
                    throw new IOException("injected failure saving " + job.save() + " (--fail-at " + job.failAt()
                            + ")");
                }
                Checkpoint.save(Path.of(job.save()), model, RunMetadata.of(spec));
                report.add("saved model to " + job.save());
            }
        });
        return comm.rank() == 0 ? report : List.of();
    }

    /**
     * Trains {@code spec} (fitted to the data) on this rank's {@code share} of every global batch, adding a line per
     * epoch to {@code report}; ends with {@code atEnd} on the trained model, then waits for every rank: no rank ends
     * before rank 0 has finished (if rank 0 fails saving, the others fail with it and Spark retries the whole stage;
     * a finished rank's result would be kept, and rank 0 retried alone would wait forever).
     */
    static void train(SparkTrainOptions.Job job, RunSpec spec, DataLoader share, Collective comm, Device device,
                      int attempt, List<String> report, AtEnd atEnd) throws IOException {
        Map<String, String> metadata = RunMetadata.of(spec);
        try (Sequential model = spec.newModel(device); Optimizer opt = spec.newOptimizer(model);
             Trainer trainer = spec.newTrainer(model, opt)) {
            if (share.dataset().isRegression()) { // a DataFrame's targets (a file's regression is refused on Spark)
                trainer.loss(Losses::mse);
            }
            DataParallel dp = new DataParallel(comm).checkEvery(job.checkEvery());
            trainer.gradients(dp).schedule(spec.lrSchedule(share.batches()));
            Path ckpt = job.checkpoint() == null ? null : Path.of(job.checkpoint());
            double[] resumed = new double[1]; // epochs done: rank 0 reads the checkpoint, the others get it
            if (comm.rank() == 0 && ckpt != null && Files.exists(ckpt)) {
                checkSameRun(ckpt, spec, "checkpoint");
                resumed[0] = TrainingCheckpoint.restore(ckpt, trainer);
            }
            comm.broadcast(resumed, 0);
            dp.broadcast(trainer);
            int done = (int) resumed[0];
            if (done > 0) {
                report.add(String.format(Locale.ROOT, "resumed from %s after epoch %d (stage attempt %d)", ckpt, done,
                        attempt));
            }
            long stepsBefore = trainer.stepsDone();
            for (int e = done + 1; e <= spec.epochs(); e++) {
                double reducedBefore = dp.allReduceSeconds();
                Trainer.EpochStats s = trainer.epoch(share, e, listener(job, comm, attempt, trainer, e));
                long steps = trainer.stepsDone() - stepsBefore;
                stepsBefore = trainer.stepsDone();
                report.add(String.format(Locale.ROOT, "epoch %2d/%d  train loss %.4f%s  |  %,.0f samples/s, "
                        + "%d ranks, all-reduce %.2f ms/step of %.2f ms", e, spec.epochs(), s.loss(),
                        Double.isNaN(s.accuracy()) ? "" : String.format(Locale.ROOT, " acc %5.2f%%",
                                100 * s.accuracy()), s.samples() / s.seconds(), comm.size(),
                        1000 * (dp.allReduceSeconds() - reducedBefore) / steps, 1000 * s.seconds() / steps));
                if (ckpt != null && comm.rank() == 0) {
                    TrainingCheckpoint.save(ckpt, trainer, e, metadata);
                }
                comm.barrier(); // the checkpoint of epoch e is whole before any rank starts epoch e + 1
            }
            atEnd.accept(model);
            comm.barrier();
        }
    }

    /**
     * Fails, naming {@code option}, when the checkpoint was written by a run with other data, model or optimizer
     * settings (a DataFrame's run names no data source: its checkpoint names none either).
     */
    static void checkSameRun(Path ckpt, RunSpec mine, String option) throws IOException {
        RunSpec saved = RunMetadata.read(Safetensors.header(ckpt).metadata(), ckpt);
        String difference = saved.data() == null && mine.data() != null ? "no description of its run"
                : mine.differenceFrom(saved);
        if (difference != null) {
            throw new IllegalArgumentException(option + " " + ckpt + " belongs to another run: it was written by a "
                    + "run with " + difference);
        }
    }

    /**
     * Rank 0's progress on its standard error (the executor's log; the console in local mode), a line at each
     * quarter of the epoch; with --fail-at RANK:STEP, in the stage's first attempt, that rank fails once the trainer
     * has passed that step (fault injection for the restart test).
     */
    private static Trainer.Listener listener(SparkTrainOptions.Job job, Collective comm, int attempt, Trainer trainer,
                                             int epoch) {
        String[] at = job.failAt() == null ? null : job.failAt().split(":");
        boolean inject = at != null && attempt == 0 && comm.rank() == Integer.parseInt(at[0])
                && at[1].matches("[0-9]+");
        long step = inject ? Long.parseLong(at[1]) : Long.MAX_VALUE;
        int[] quarters = {0};
        return (batch, batches, loss, acc, samples) -> {
            if (inject && trainer.stepsDone() >= step) {
                throw new IllegalStateException("injected failure (--fail-at " + job.failAt() + ")");
            }
            int quarter = 4 * batch / Math.max(1, batches);
            if (comm.rank() == 0 && quarter > quarters[0]) {
                quarters[0] = quarter;
                System.err.printf(Locale.ROOT, "rank 0: epoch %d %3d%%  loss %.4f  acc %.1f%% (this rank's share)%n",
                        epoch, 25 * quarter, loss, 100 * acc);
            }
        };
    }

    /** Whether --fail-at names this rank and {@code point} ("save"), in the stage's first attempt. */
    private static boolean failsAt(SparkTrainOptions.Job job, Collective comm, int attempt, String point) {
        return job.failAt() != null && attempt == 0 && job.failAt().equals(comm.rank() + ":" + point);
    }
}
