package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.TabularEncoding;
import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.RunLock;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Backends;
import dev.backprop4j.train.EarlyStopping;
import dev.backprop4j.train.Evaluation;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.Trainer;
import dev.backprop4j.train.TrainingCheckpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** Trains an MLP classifier: by default 784-256-128-10 ReLU with Adam on the embedded MNIST subset. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train an MLP classifier (default: 784-256-128-10 ReLU, Adam, embedded MNIST subset).")
final class TrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    TrainingOptions run = new TrainingOptions();

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--save", paramLabel = "FILE.safetensors", description = "Write the trained model (safetensors).")
    Path save;

    @Option(names = "--plot", paramLabel = "FILE.png",
            description = "Write loss and accuracy per epoch as a chart (.png, .jpg, .gif or .bmp, by the extension).")
    Path plot;

    @Option(names = "--checkpoint", paramLabel = "FILE.safetensors",
            description = "After every epoch, write the whole training state here (model, optimizer state, schedule "
                    + "position, epoch), atomically, for --resume.")
    Path checkpoint;

    @Option(names = "--resume", paramLabel = "FILE.safetensors",
            description = "Continue the run that wrote this --checkpoint file, up to --epochs (same data, layers, "
                    + "optimizer and its settings, lr, schedule, batch, seed and limit).")
    Path resume;

    @Option(names = "--cuda-graph",
            description = "Capture the training step as a CUDA graph and replay it per batch (one launch per step; "
                    + "CUDA devices only).")
    boolean cudaGraph;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        RunSpec asked = checkOptions();
        Device dev = DeviceOption.parse(spec, device);
        Backends.of(dev); // fails now, with the reason, when CUDA is asked for and unusable
        if (cudaGraph && !dev.isCuda()) {
            throw usage("--cuda-graph needs a CUDA device, and --device " + device + " is " + dev);
        }
        if (resume != null && asked.plan().patience() > 0) {
            throw usage("--resume with --patience: checkpoint files do not hold the best epoch's weights yet; resume "
                    + "runs without early stopping");
        }
        Dataset.Split split = asked.data().load(asked.seed());
        RunSpec runSpec = asked.fittedTo(split);
        Dataset train = runSpec.limit() == 0 ? split.train() : split.train().head(runSpec.limit());
        Dataset test = split.test();
        Dataset validation = null;
        double valFraction = runSpec.plan().valFraction();
        if (valFraction > 0) { // the seeded validation split, from the training rows only
            Dataset.Split tv = train.split(1 - valFraction, runSpec.seed() + 1, "--val-fraction " + valFraction);
            train = tv.train();
            validation = tv.test();
        }
        if (train.size() > 1 && train.distinctLabels() == 1) {
            System.err.println("warning: every training row of " + runSpec.data().describe() + " has "
                    + (train.isRegression() ? "one target" : "label " + train.label(0))
                    + ": the model learns to answer that, and its score says nothing");
        }
        TabularEncoding table = runSpec.architecture().tabular();
        DataLoader trainLoader = new DataLoader(train, runSpec.batch(), true, runSpec.seed(), false, dev);
        LrSchedule lrSchedule;
        try {
            lrSchedule = runSpec.lrSchedule(trainLoader.batches());
        } catch (IllegalArgumentException e) { // a warmup as long as the run
            throw usage(e.getMessage());
        }
        MemoryBudget.require("training " + runSpec.layersText() + " (" + String.format(Locale.ROOT, "%,d",
                runSpec.parameterCount()) + " parameters, " + runSpec.optimizer().name().toLowerCase(Locale.ROOT)
                + ", batch " + runSpec.batch() + ")",
                MemoryBudget.bytesNeeded(runSpec, true, Math.max(runSpec.batch(), 1000)), dev);
        checkOutputs(4 * runSpec.parameterCount()); // before hours of training, not after
        try (RunLock lock = checkpoint == null ? null : RunLock.acquire(checkpoint, "--checkpoint");
             Sequential model = runSpec.newModel(dev); Optimizer opt = runSpec.newOptimizer(model);
             Trainer trainer = runSpec.newTrainer(model, opt);
             EarlyStopping stopper = runSpec.plan().patience() > 0
                     ? new EarlyStopping(model, runSpec.plan().patience()) : null) {
            out.printf(Locale.ROOT, "training %s %s on %s (%,d train / %,d test samples), %s lr %s, batch %d, device %s, %,d parameters%n",
                    runSpec.layersText(), runSpec.activation().label(), runSpec.data().describe(), train.size(),
                    test.size(), runSpec.optimizer().name().toLowerCase(Locale.ROOT), runSpec.lr(), runSpec.batch(),
                    dev, model.parameterCount());
            out.flush();
            DataLoader testLoader = new DataLoader(test, 1000, false, runSpec.seed(), false, dev);
            DataLoader valLoader = validation == null ? null
                    : new DataLoader(validation, 1000, false, runSpec.seed(), false, dev);
            trainer.schedule(lrSchedule).cudaGraph(cudaGraph);
            List<TrainingChart.Point> history = new ArrayList<>();
            int done = 0;
            if (resume != null) {
                done = resume(runSpec, trainer, history);
                out.printf(Locale.ROOT, "resumed from %s after epoch %d%n", resume, done);
            }
            long start = System.nanoTime();
            Evaluation eval = null;
            int epochs = runSpec.epochs();
            int last = done;
            for (int e = done + 1; e <= epochs; e++) {
                last = e;
                Trainer.EpochStats stats = epoch(trainer, trainLoader, e, epochs, train.size(), runSpec.lr());
                eval = Evaluation.of(model, testLoader);
                requireNumber(eval.loss(), "the test loss", "after epoch " + e, runSpec.lr());
                Evaluation val = valLoader == null ? null : Evaluation.of(model, valLoader);
                out.printf(Locale.ROOT, "epoch %2d/%d  train loss %.4f %s  |  %stest loss %.4f %s  |  %,.0f samples/s, %.1f s%n",
                        e, epochs, stats.loss(), Score.of(stats.loss(), stats.accuracy(), table),
                        val == null ? "" : String.format(Locale.ROOT, "val loss %.4f %s  |  ", val.loss(),
                        Score.of(val.loss(), val.accuracy(), table)), eval.loss(),
                        Score.of(eval.loss(), eval.accuracy(), table), stats.samplesPerSecond(), stats.seconds());
                out.flush();
                history.add(new TrainingChart.Point(e, stats.loss(), eval.loss(), stats.accuracy(), eval.accuracy()));
                if (checkpoint != null) {
                    Map<String, String> meta = new LinkedHashMap<>(RunMetadata.of(runSpec));
                    meta.put(TrainingChart.HISTORY, TrainingChart.toJson(history));
                    TrainingCheckpoint.save(checkpoint, trainer, e, meta);
                }
                if (stopper != null) {
                    stopper.update(e, val.loss());
                    if (stopper.shouldStop()) {
                        out.printf(Locale.ROOT, "early stop after epoch %d: no lower validation loss for %d epochs%n",
                                e, runSpec.plan().patience());
                        break;
                    }
                }
            }
            if (stopper != null && stopper.bestEpoch() > 0) {
                stopper.restoreBest();
                eval = Evaluation.of(model, testLoader);
                out.printf(Locale.ROOT, "kept the weights of epoch %d (validation loss %.4f): test loss %.4f %s%n",
                        stopper.bestEpoch(), stopper.bestLoss(), eval.loss(), Score.of(eval.loss(), eval.accuracy(),
                        table));
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "done: test %s after %d epochs in %.1f s on %s (%,d parameters)%n",
                    Score.regression(table) ? "RMSE " + Score.rmse(eval.loss(), table)
                    : String.format(Locale.ROOT, "accuracy %.2f%%", 100 * eval.accuracy()), last, seconds, dev,
                    model.parameterCount());
            if (save != null) {
                Checkpoint.save(save, model, RunMetadata.of(runSpec));
                out.println("saved model to " + save);
            }
            if (plot != null) {
                TrainingChart.save(plot, history, runSpec.layersText() + " " + runSpec.activation().label(),
                        Score.regression(table) ? table.targetDeviation() : Double.NaN);
                out.println("saved chart to " + plot);
            }
        }
        return 0;
    }

    /**
     * Checks that {@link #resume} was written by a run of this spec, restores its training state into the trainer
     * and its history into {@code history}; returns the epochs done.
     */
    private int resume(RunSpec mine, Trainer trainer, List<TrainingChart.Point> history) throws IOException {
        Map<String, String> meta = Safetensors.header(resume).metadata();
        if (!TrainingCheckpoint.isResumable(meta)) {
            throw usage("--resume " + resume + " is not a --checkpoint file (it holds a model only)");
        }
        RunSpec saved = RunMetadata.read(meta, resume);
        String difference = saved.data() == null ? "no description of its run" : mine.differenceFrom(saved);
        if (difference != null) {
            throw usage("--resume " + resume + " was written by a run with " + difference);
        }
        int epochsDone = TrainingCheckpoint.epochsDone(meta);
        if (epochsDone >= mine.epochs()) {
            throw usage("--resume " + resume + " has " + epochsDone + " epochs done already; ask for more with --epochs");
        }
        if (mine.schedule() == RunSpec.Schedule.COSINE && saved.epochs() != mine.epochs()) {
            System.err.println("note: the run was started for " + saved.epochs() + " epochs and now runs " + mine.epochs()
                    + ": its cosine schedule is stretched to the new length from the step it stopped at");
        }
        List<TrainingChart.Point> points = TrainingChart.history(meta, resume);
        int done = TrainingCheckpoint.restore(resume, trainer);
        history.addAll(points);
        return done;
    }

    /** Stops the run when a loss is no longer a finite number, before anything of the epoch is saved. */
    private static void requireNumber(double loss, String which, String when, double lr) {
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException(String.format(Locale.ROOT, "%s became %s %s (learning rate %s too high?); "
                    + "training stopped and nothing was saved", which, loss, when, lr));
        }
    }

    /** One epoch with its progress on standard error; stops the run when the loss stops being a number. */
    private static Trainer.EpochStats epoch(Trainer trainer, DataLoader loader, int e, int epochs, int samples,
                                            double lr) {
        try (ProgressDisplay progress = new ProgressDisplay(String.format(Locale.ROOT, "epoch %2d/%d", e, epochs),
                samples, System.err)) {
            long epochStart = System.nanoTime();
            return trainer.epoch(loader, e, (i, n, loss, acc, done) -> {
                requireNumber(loss, "the loss", "at epoch " + e + ", step " + i, lr);
                double perSecond = done / Math.max(1e-9, (System.nanoTime() - epochStart) / 1e9);
                progress.update(done, loss, acc, perSecond);
            });
        }
    }

    /** Usage errors, each naming its option: exit code 2, before anything runs. Returns the run asked for. */
    private RunSpec checkOptions() {
        try {
            if (plot != null) {
                TrainingChart.format(plot);
            }
            distinctOutputs();
            // absolute, so that evaluate and predict find it from any directory
            return run.spec(data.source().absolute());
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    /** --save, --plot and --checkpoint name three different files (a chart written over the model would lose it). */
    private void distinctOutputs() {
        Map<Path, String> seen = new LinkedHashMap<>();
        Map<String, Path> outputs = new LinkedHashMap<>();
        outputs.put("--save", save);
        outputs.put("--plot", plot);
        outputs.put("--checkpoint", checkpoint);
        for (Map.Entry<String, Path> e : outputs.entrySet()) {
            if (e.getValue() != null) {
                String before = seen.put(e.getValue().toAbsolutePath().normalize(), e.getKey());
                if (before != null) {
                    throw new IllegalArgumentException(before + " and " + e.getKey() + " name the same file, "
                            + e.getValue() + "; give each its own");
                }
            }
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** --save, --plot and --checkpoint can be written (folder, permissions, not a special file, room), checked first. */
    private void checkOutputs(long modelBytes) throws IOException {
        if (save != null) {
            AtomicFile.checkWritable(save, modelBytes, "--save");
        }
        if (plot != null) {
            AtomicFile.checkWritable(plot, 1L << 20, "--plot");
        }
        if (checkpoint != null) {
            AtomicFile.checkWritable(checkpoint, 3 * modelBytes, "--checkpoint", true);
        }
    }
}
