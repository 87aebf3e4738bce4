package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Backends;
import dev.backprop4j.train.Evaluation;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** Trains an MLP classifier: by default 784-256-128-10 ReLU with Adam on the embedded MNIST subset. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train an MLP classifier (default: 784-256-128-10 ReLU, Adam, embedded MNIST subset).")
final class TrainCommand implements Callable<Integer> {
    enum OptimizerKind { sgd, adam, adamw }

    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions data = new DataOptions();

    @Option(names = "--layers", paramLabel = "SIZES", defaultValue = "256,128",
            description = "Hidden layer sizes (default: ${DEFAULT-VALUE}).")
    String layers;

    @Option(names = "--activation", defaultValue = "relu",
            description = "relu, leaky_relu, sigmoid, tanh or gelu (default: ${DEFAULT-VALUE}).")
    String activation;

    @Option(names = "--epochs", defaultValue = "10", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.001", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--optimizer", defaultValue = "adam",
            description = "sgd (momentum 0.9), adam or adamw (default: ${DEFAULT-VALUE}).")
    OptimizerKind optimizer;

    @Option(names = "--schedule", defaultValue = "cosine",
            description = "Learning-rate schedule: constant, or cosine (decay from --lr to 0 over the run) (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--seed", defaultValue = "42",
            description = "Seed of initialisation, shuffling and the --csv split (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--save", paramLabel = "FILE.safetensors", description = "Write the trained model (safetensors).")
    Path save;

    @Option(names = "--plot", paramLabel = "FILE.png",
            description = "Write loss and accuracy per epoch as a chart (.png, .jpg, .gif or .bmp, by the extension).")
    Path plot;

    @Option(names = "--limit", paramLabel = "N", description = "Use only the first N training samples.")
    Integer limit;

    @Option(names = "--checkpoint", paramLabel = "FILE.safetensors",
            description = "After every epoch, write the whole training state here (model, optimizer state, schedule "
                    + "position, epoch), atomically, for --resume.")
    Path checkpoint;

    @Option(names = "--resume", paramLabel = "FILE.safetensors",
            description = "Continue the run that wrote this --checkpoint file, up to --epochs (same data, layers, "
                    + "optimizer, lr, schedule, batch and seed).")
    Path resume;

    @Option(names = "--cuda-graph",
            description = "Capture the training step as a CUDA graph and replay it per batch (one launch per step; "
                    + "CUDA devices only).")
    boolean cudaGraph;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        checkOptions();
        Device dev = Backends.device(device);
        Backends.of(dev); // fails now, with the reason, when CUDA is asked for and unusable
        if (cudaGraph && !dev.isCuda()) {
            throw usage("--cuda-graph needs a CUDA device, and --device " + device + " is " + dev);
        }
        DataOptions.Loaded loaded = data.load(spec, seed);
        Dataset train = limit == null ? loaded.split().train() : loaded.split().train().head(limit);
        Dataset test = loaded.split().test();
        int[] hidden = ModelSpec.parseSizes(layers, "--layers");
        int[] sizes = new int[hidden.length + 2];
        sizes[0] = train.features();
        System.arraycopy(hidden, 0, sizes, 1, hidden.length);
        sizes[sizes.length - 1] = Math.max(train.classes(), test.classes());
        ModelSpec specOfModel = new ModelSpec(sizes, Activation.parse(activation), seed);
        MemoryBudget.require("training " + specOfModel.layersText() + " (" + String.format(Locale.ROOT, "%,d",
                specOfModel.parameterCount()) + " parameters, " + optimizer + ", batch " + batch + ")",
                specOfModel.bytesNeeded(true, optimizer == OptimizerKind.sgd ? 1 : 2, Math.max(batch, 1000)), dev);
        checkOutputs(4 * specOfModel.parameterCount()); // before hours of training, not after
        try (Sequential model = specOfModel.build(seed, dev); Optimizer opt = optimizer(model)) {
            out.printf(Locale.ROOT, "training %s %s on %s (%,d train / %,d test samples), %s lr %s, batch %d, device %s, %,d parameters%n",
                    specOfModel.layersText(), specOfModel.activation().label(), loaded.source(), train.size(),
                    test.size(), optimizer, lr, batch, dev, model.parameterCount());
            out.flush();
            DataLoader trainLoader = new DataLoader(train, batch, true, seed, false, dev);
            DataLoader testLoader = new DataLoader(test, 1000, false, seed, false, dev);
            Trainer trainer = new Trainer(model, opt).schedule(schedule(trainLoader.batches())).cudaGraph(cudaGraph);
            List<TrainingChart.Point> history = new ArrayList<>();
            RunRecord run = new RunRecord(specOfModel, loaded.source(), data.labelColumn, optimizer.name(), lr,
                    schedule, batch, seed, epochs, limit);
            int done = 0;
            if (resume != null) {
                done = run.resume(resume, model, opt, trainer, history, this::usage);
                out.printf(Locale.ROOT, "resumed from %s after epoch %d%n", resume, done);
            }
            long start = System.nanoTime();
            Evaluation eval = null;
            for (int e = done + 1; e <= epochs; e++) {
                Trainer.EpochStats stats = epoch(trainer, trainLoader, e, train.size());
                eval = Evaluation.of(model, testLoader);
                out.printf(Locale.ROOT, "epoch %2d/%d  train loss %.4f acc %5.2f%%  |  test loss %.4f acc %5.2f%%  |  %,.0f samples/s, %.1f s%n",
                        e, epochs, stats.loss(), 100 * stats.accuracy(), eval.loss(), 100 * eval.accuracy(),
                        stats.samplesPerSecond(), stats.seconds());
                out.flush();
                history.add(new TrainingChart.Point(e, stats.loss(), eval.loss(), stats.accuracy(), eval.accuracy()));
                if (checkpoint != null) {
                    TrainingCheckpoint.save(checkpoint, trainer, e, run.metadata(history));
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "done: test accuracy %.2f%% after %d epochs in %.1f s on %s (%,d parameters)%n",
                    100 * eval.accuracy(), epochs, seconds, dev, model.parameterCount());
            if (save != null) {
                Checkpoint.save(model, save, specOfModel.metadata());
                out.println("saved model to " + save);
            }
            if (plot != null) {
                TrainingChart.save(plot, history, specOfModel.layersText() + " " + specOfModel.activation().label());
                out.println("saved chart to " + plot);
            }
        }
        return 0;
    }

    /** One epoch with its progress on standard error; stops the run when the loss stops being a number. */
    private Trainer.EpochStats epoch(Trainer trainer, DataLoader loader, int e, int samples) {
        try (ProgressDisplay progress = new ProgressDisplay(String.format(Locale.ROOT, "epoch %2d/%d", e, epochs),
                samples, System.err)) {
            long epochStart = System.nanoTime();
            return trainer.epoch(loader, e, (i, n, loss, acc, done) -> {
                if (!Double.isFinite(loss)) {
                    throw new IllegalStateException(String.format(Locale.ROOT, "the loss became %s at epoch %d, step "
                            + "%d (learning rate %s too high?); training stopped and nothing was saved", loss, e, i, lr));
                }
                double perSecond = done / Math.max(1e-9, (System.nanoTime() - epochStart) / 1e9);
                progress.update(done, String.format(Locale.ROOT, "loss %.4f  acc %.1f%%  %,.0f samples/s",
                        loss, 100 * acc, perSecond));
            });
        }
    }

    /** Usage errors, each naming its option: exit code 2, before anything runs. */
    private void checkOptions() {
        data.check(spec);
        if (epochs <= 0) {
            throw usage("--epochs must be at least 1, got " + epochs);
        }
        if (batch <= 0) {
            throw usage("--batch must be at least 1, got " + batch);
        }
        if (!(lr > 0) || !Double.isFinite(lr)) {
            throw usage("--lr must be a positive finite number, got " + lr);
        }
        if (limit != null && limit <= 0) {
            throw usage("--limit must be at least 1, got " + limit);
        }
        if (plot != null) {
            try {
                TrainingChart.format(plot);
            } catch (IllegalArgumentException e) {
                throw usage(e.getMessage());
            }
        }
        try {
            ModelSpec.parseSizes(layers, "--layers");
            Activation.parse(activation);
            schedule(1);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** --save and --plot can be written (folder, permissions, not a special file, room), checked before training. */
    private void checkOutputs(long modelBytes) throws IOException {
        if (save != null) {
            AtomicFile.checkWritable(save, modelBytes, "--save");
        }
        if (plot != null) {
            AtomicFile.checkWritable(plot, 1L << 20, "--plot");
        }
        if (checkpoint != null) {
            AtomicFile.checkWritable(checkpoint, 3 * modelBytes, "--checkpoint");
        }
    }

    private LrSchedule schedule(int batchesPerEpoch) {
        long total = (long) batchesPerEpoch * epochs;
        return switch (schedule) {
            case "constant" -> LrSchedule.constant(lr);
            case "cosine" -> LrSchedule.cosineWithWarmup(lr, 0, total, 0);
            default -> throw new IllegalArgumentException("unknown --schedule '" + schedule + "' (expected constant or cosine)");
        };
    }

    private Optimizer optimizer(Sequential model) {
        return switch (optimizer) {
            case sgd -> new Sgd(model.parameters(), lr).momentum(0.9);
            case adam -> new Adam(model.parameters(), lr);
            case adamw -> new AdamW(model.parameters(), lr);
        };
    }
}
