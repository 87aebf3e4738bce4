package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
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
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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

    @Option(names = "--seed", defaultValue = "42", description = "Seed of initialisation and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--save", paramLabel = "FILE.safetensors", description = "Write the trained model (safetensors).")
    Path save;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Write loss and accuracy per epoch as a PNG chart.")
    Path plot;

    @Option(names = "--limit", paramLabel = "N", description = "Use only the first N training samples.")
    Integer limit;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (epochs <= 0 || batch <= 0 || !(lr > 0)) {
            throw new IllegalArgumentException("--epochs, --batch and --lr must be positive");
        }
        Device dev = Backends.device(device);
        Backends.of(dev); // fails now, with the reason, when CUDA is asked for and unusable
        DataOptions.Loaded loaded = data.load(seed);
        Dataset train = limit == null ? loaded.split().train() : loaded.split().train().head(limit);
        Dataset test = loaded.split().test();
        int[] hidden = ModelSpec.parseSizes(layers, "--layers");
        int[] sizes = new int[hidden.length + 2];
        sizes[0] = train.features();
        System.arraycopy(hidden, 0, sizes, 1, hidden.length);
        sizes[sizes.length - 1] = Math.max(train.classes(), test.classes());
        ModelSpec specOfModel = new ModelSpec(sizes, Activation.parse(activation));
        try (Sequential model = specOfModel.build(seed, dev); Optimizer opt = optimizer(model)) {
            out.printf(Locale.ROOT, "training %s %s on %s (%,d train / %,d test samples), %s lr %s, batch %d, device %s, %,d parameters%n",
                    join(sizes), specOfModel.activation().label(), loaded.source(), train.size(), test.size(),
                    optimizer, lr, batch, dev, model.parameterCount());
            out.flush();
            DataLoader trainLoader = new DataLoader(train, batch, true, seed, false, dev);
            DataLoader testLoader = new DataLoader(test, 1000, false, seed, false, dev);
            Trainer trainer = new Trainer(model, opt).schedule(schedule(trainLoader.batches()));
            List<TrainingChart.Point> history = new ArrayList<>();
            long start = System.nanoTime();
            Evaluation eval = null;
            for (int e = 1; e <= epochs; e++) {
                Trainer.EpochStats stats;
                try (ProgressBar bar = new ProgressBarBuilder()
                        .setTaskName(String.format(Locale.ROOT, "epoch %2d/%d", e, epochs))
                        .setInitialMax(train.size()).setUnit(" samples", 1)
                        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).setMaxRenderedLength(130).build()) {
                    long epochStart = System.nanoTime();
                    stats = trainer.epoch(trainLoader, e, (i, n, loss, acc, samples) -> {
                        bar.stepTo(samples);
                        double perSecond = samples / Math.max(1e-9, (System.nanoTime() - epochStart) / 1e9);
                        bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f  acc %.1f%%  %,.0f samples/s",
                                loss, 100 * acc, perSecond));
                    });
                }
                eval = Evaluation.of(model, testLoader);
                out.printf(Locale.ROOT, "epoch %2d/%d  train loss %.4f acc %5.2f%%  |  test loss %.4f acc %5.2f%%  |  %,.0f samples/s, %.1f s%n",
                        e, epochs, stats.loss(), 100 * stats.accuracy(), eval.loss(), 100 * eval.accuracy(),
                        stats.samplesPerSecond(), stats.seconds());
                out.flush();
                history.add(new TrainingChart.Point(e, stats.loss(), eval.loss(), stats.accuracy(), eval.accuracy()));
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "done: test accuracy %.2f%% after %d epochs in %.1f s on %s (%,d parameters)%n",
                    100 * eval.accuracy(), epochs, seconds, dev, model.parameterCount());
            if (save != null) {
                Checkpoint.save(model, save, specOfModel.metadata());
                out.println("saved model to " + save);
            }
            if (plot != null) {
                TrainingChart.save(plot, history, join(sizes) + " " + specOfModel.activation().label());
                out.println("saved chart to " + plot);
            }
        }
        return 0;
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

    private static String join(int[] sizes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < sizes.length; i++) {
            sb.append(i == 0 ? "" : "-").append(sizes[i]);
        }
        return sb.toString();
    }
}
