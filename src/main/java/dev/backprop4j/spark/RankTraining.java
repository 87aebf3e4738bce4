package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.Csv;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.Mnist;
import dev.backprop4j.distributed.Collective;
import dev.backprop4j.distributed.DataParallel;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.train.Evaluation;
import dev.backprop4j.train.Trainer;
import dev.backprop4j.train.TrainingCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * What one rank of {@link SparkTrain} does, apart from Spark: reads the whole data set from its path (every rank the
 * same rows, so that together they see exactly the batches one process would), builds the model and optimizer from
 * the seed, resumes from the checkpoint when one exists (a stage started again after a failure), trains with a
 * {@link DataParallelTrainer}, and on rank 0 writes the checkpoint after every epoch and the model at the end.
 * Returns rank 0's report lines (other ranks return none).
 */
final class RankTraining {
    private RankTraining() {
    }

    static List<String> run(SparkTrainOptions o, Collective comm, Device device, int attempt) throws IOException {
        Dataset.Split data = o.csv != null ? Csv.read(Path.of(o.csv), o.labelColumn).split(0.8, o.seed, o.csv)
                : o.data != null ? Mnist.load(Path.of(o.data)) : Mnist.embedded();
        int[] hidden = Arrays.stream(o.layers.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        int[] sizes = new int[hidden.length + 2];
        sizes[0] = data.train().features();
        System.arraycopy(hidden, 0, sizes, 1, hidden.length);
        sizes[sizes.length - 1] = Math.max(data.train().classes(), data.test().classes());
        List<String> report = new ArrayList<>();
        try (Sequential model = Mlp.of(sizes).activation(Activation.parse(o.activation)).seed(o.seed).device(device)
                .build(); Optimizer opt = optimizer(o, model); Trainer trainer = new Trainer(model, opt)) {
            DataParallel dp = new DataParallel(comm).checkEvery(o.checkEvery);
            trainer.gradients(dp);
            Path ckpt = o.checkpointPath();
            double[] resumed = new double[1]; // epochs done: rank 0 reads the checkpoint, the others get it
            if (comm.rank() == 0 && ckpt != null && Files.exists(ckpt)) {
                checkSameRun(ckpt, metadata(o, sizes));
                resumed[0] = TrainingCheckpoint.restore(ckpt, trainer);
            }
            comm.broadcast(resumed, 0);
            dp.broadcast(trainer);
            int done = (int) resumed[0];
            if (done > 0) {
                report.add(String.format(Locale.ROOT, "resumed from %s after epoch %d (stage attempt %d)", ckpt, done,
                        attempt));
            }
            DataLoader loader = new DataLoader(data.train(), o.batch, true, o.seed, false, device)
                    .shard(comm.rank(), comm.size());
            long stepsBefore = trainer.stepsDone();
            for (int e = done + 1; e <= o.epochs; e++) {
                double reducedBefore = dp.allReduceSeconds();
                Trainer.EpochStats s = trainer.epoch(loader, e, failAt(o, comm, attempt, trainer));
                long steps = trainer.stepsDone() - stepsBefore;
                stepsBefore = trainer.stepsDone();
                report.add(String.format(Locale.ROOT, "epoch %2d/%d  train loss %.4f acc %5.2f%%  |  %,.0f samples/s, "
                        + "%d ranks, all-reduce %.2f ms/step of %.2f ms", e, o.epochs, s.loss(), 100 * s.accuracy(),
                        s.samples() / s.seconds(), comm.size(), 1000 * (dp.allReduceSeconds() - reducedBefore) / steps,
                        1000 * s.seconds() / steps));
                if (ckpt != null && comm.rank() == 0) {
                    TrainingCheckpoint.save(ckpt, trainer, e, metadata(o, sizes));
                }
                comm.barrier(); // the checkpoint of epoch e is whole before any rank starts epoch e + 1
            }
            Evaluation test = Evaluation.of(model, new DataLoader(data.test(), 1000, false, o.seed, false, device));
            report.add(String.format(Locale.ROOT, "done: test accuracy %.2f%% after %d epochs on %d ranks",
                    100 * test.accuracy(), o.epochs, comm.size()));
            if (o.save != null && comm.rank() == 0) {
                Checkpoint.save(model, Path.of(o.save), metadata(o, sizes));
                report.add("saved model to " + o.save);
            }
        }
        return comm.rank() == 0 ? report : List.of();
    }

    /**
     * The model's description, as `train --save` writes it (so evaluate and predict read the file), and the run's
     * options, which a resumed run must share.
     */
    private static Map<String, String> metadata(SparkTrainOptions o, int[] sizes) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put("backprop4j.layers", String.join(",", Arrays.stream(sizes).mapToObj(Integer::toString).toList()));
        m.put("backprop4j.activation", Activation.parse(o.activation).label());
        m.put("backprop4j.split_seed", Long.toString(o.seed));
        m.put(RUN + "data", o.csv != null ? o.csv + " label column " + o.labelColumn : Objects.toString(o.data,
                "embedded"));
        m.put(RUN + "optimizer", o.optimizer);
        m.put(RUN + "lr", Double.toString(o.lr));
        m.put(RUN + "batch", Integer.toString(o.batch));
        return m;
    }

    private static final String RUN = "backprop4j.spark.";

    /** Fails when the checkpoint was written by a run with other data, model or optimizer settings. */
    private static void checkSameRun(Path ckpt, Map<String, String> mine) throws IOException {
        Map<String, String> saved = Safetensors.header(ckpt).metadata();
        for (Map.Entry<String, String> e : mine.entrySet()) {
            if (!e.getValue().equals(saved.get(e.getKey()))) {
                throw new IllegalArgumentException("--checkpoint " + ckpt + " belongs to another run: its "
                        + e.getKey() + " is " + saved.get(e.getKey()) + ", this run's " + e.getValue());
            }
        }
    }

    /**
     * With --fail-at RANK:STEP, in the stage's first attempt: a listener that fails on that rank once the trainer
     * has passed that step (fault injection for the restart test); else null.
     */
    private static Trainer.Listener failAt(SparkTrainOptions o, Collective comm, int attempt, Trainer trainer) {
        if (o.failAt == null || attempt != 0) {
            return null;
        }
        String[] at = o.failAt.split(":");
        int rank = Integer.parseInt(at[0]);
        long step = Long.parseLong(at[1]);
        return (batch, batches, loss, acc, samples) -> {
            if (comm.rank() == rank && trainer.stepsDone() >= step) {
                throw new IllegalStateException("injected failure (--fail-at " + o.failAt + ")");
            }
        };
    }

    private static Optimizer optimizer(SparkTrainOptions o, Sequential model) {
        return switch (o.optimizer) {
            case "sgd" -> new Sgd(model.parameters(), o.lr).momentum(0.9);
            case "adam" -> new Adam(model.parameters(), o.lr);
            case "adamw" -> new AdamW(model.parameters(), o.lr);
            default -> throw new IllegalArgumentException("--optimizer must be sgd, adam or adamw, got " + o.optimizer);
        };
    }
}
