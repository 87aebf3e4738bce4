package dev.backprop4j.train;

import dev.backprop4j.core.Device;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Module;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.optim.Sgd;

import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Everything that defines a training run of an MLP classifier, as one value: the data (a {@link DataSource}), the
 * model (an {@link Architecture} and activation; the input and output widths come from the data, {@link #fittedTo}),
 * the optimizer and its settings, the learning-rate schedule, the batch size, the epochs, the seed (of initialisation,
 * shuffling and a CSV's split) and a row limit. The {@code train} command and the Spark entry point build it from the
 * same command-line option groups, and it builds the model, optimizer and schedule of the run. {@link RunMetadata}
 * writes it into every model and checkpoint file and reads it back for {@code evaluate}, {@code predict} (which
 * rebuild the model and score it on the same test rows) and {@code --resume} (which refuses a run that differs,
 * naming the option: {@link #differenceFrom}). Build one with {@link #builder()}.
 */
public final class RunSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The default seed (of files written before the split seed was stored, too). */
    static final long DEFAULT_SEED = 42;

    /** The optimizers a run can use: SGD with momentum, Adam, AdamW (decoupled weight decay). */
    public enum OptimizerKind { SGD, ADAM, ADAMW }

    /** The learning rate over the run (after the plan's warmup): constant, or cosine decay from lr to 0. */
    public enum Schedule { CONSTANT, COSINE }

    private final DataSource data;
    private final int inputs;
    private final Architecture architecture;
    private final int classes;
    private final Activation activation;
    private final OptimizerKind optimizer;
    private final double lr;
    private final double momentum;
    private final double weightDecay;
    private final Schedule schedule;
    private final int batch;
    private final int epochs;
    private final long seed;
    private final int limit;
    private final TrainingPlan plan;

    private RunSpec(Builder b) {
        this.data = b.data;
        this.inputs = b.inputs;
        this.architecture = b.architecture;
        this.classes = b.classes;
        this.activation = b.activation;
        this.optimizer = b.optimizer;
        this.lr = b.lr;
        this.momentum = b.momentum;
        this.weightDecay = Double.isNaN(b.weightDecay) ? (b.optimizer == OptimizerKind.ADAMW ? 0.01 : 0)
                : b.weightDecay;
        this.schedule = b.schedule;
        this.batch = b.batch;
        this.epochs = b.epochs;
        this.seed = b.seed;
        this.limit = b.limit;
        this.plan = b.plan;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this run's values, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder().data(data).architecture(architecture).activation(activation).optimizer(optimizer)
                .lr(lr).momentum(momentum).weightDecay(weightDecay).schedule(schedule).batch(batch).epochs(epochs)
                .seed(seed).limit(limit).plan(plan);
        b.inputs = inputs;
        b.classes = classes;
        return b;
    }

    /** This run with the input width and the number of classes of {@code split}. */
    public RunSpec fittedTo(Dataset.Split split) {
        Dataset t = split.train();
        RunSpec s = fittedTo(t.features(), t.isRegression() ? 1 : Math.max(t.classes(), split.test().classes()));
        return split.encoding() == null ? s : s.toBuilder().architecture(architecture.withTabular(split.encoding()))
                .build();
    }

    /** This run with {@code inputs} features and {@code classes} outputs (data that is not a {@link DataSource}). */
    public RunSpec fittedTo(int inputs, int classes) {
        if (inputs < 1 || classes < 1) {
            throw new IllegalArgumentException("RunSpec: " + inputs + " inputs and " + classes + " classes");
        }
        Builder b = toBuilder();
        b.inputs = inputs;
        b.classes = classes;
        return b.build();
    }

    /** The data, or null for a model file that does not say. */
    public DataSource data() {
        return data;
    }

    /** Every layer's width, input first, classes last (a residual MLP's: input, its width, classes). */
    public int[] sizes() {
        fitted();
        return architecture.sizes(inputs, classes);
    }

    private void fitted() {
        if (inputs == 0) {
            throw new IllegalStateException("RunSpec: the input width and classes come from the data; call fittedTo");
        }
    }

    /** The model family and its shape but for the input width and classes. */
    public Architecture architecture() {
        return architecture;
    }

    public Activation activation() {
        return activation;
    }

    public OptimizerKind optimizer() {
        return optimizer;
    }

    public double lr() {
        return lr;
    }

    public double momentum() {
        return momentum;
    }

    public double weightDecay() {
        return weightDecay;
    }

    public Schedule schedule() {
        return schedule;
    }

    public int batch() {
        return batch;
    }

    public int epochs() {
        return epochs;
    }

    /** The seed of initialisation, shuffling and a CSV's train/test split. */
    public long seed() {
        return seed;
    }

    /** The training rows used (the first ones), 0 for all. */
    public int limit() {
        return limit;
    }

    /** Label smoothing, gradient accumulation, early stopping, warmup and decay groups. */
    public TrainingPlan plan() {
        return plan;
    }

    /** "784-256-128-10", or for a residual MLP "784-256x16-10" (16 blocks of width 256). */
    public String layersText() {
        fitted();
        return architecture.text(inputs, classes);
    }

    /** Every tensor of the model's state dict (parameters and buffers), as {@link #newModel} makes them. */
    public Map<String, Checkpoint.Expected> stateShapes() {
        fitted();
        return architecture.stateShapes(inputs, classes);
    }

    /** The widths of the outputs a forward keeps for the backward, summed (a row's share of the activations). */
    public long activationWidths() {
        fitted();
        return architecture.activationWidths(inputs, classes);
    }

    /** The model, initialised from the seed, on {@code device}. */
    public Sequential newModel(Device device) {
        fitted();
        return architecture.build(inputs, classes, activation, seed, device);
    }

    /** The optimizer of {@code model}'s parameters. */
    public Optimizer newOptimizer(Module model) {
        return plan.decayGroups(switch (optimizer) {
            case SGD -> new Sgd(model.parameters(), lr).momentum(momentum).weightDecay(weightDecay);
            case ADAM -> new Adam(model.parameters(), lr).weightDecay(weightDecay);
            case ADAMW -> new AdamW(model.parameters(), lr).weightDecay(weightDecay);
        }, model);
    }

    /** The trainer of {@code model} by {@code optimizer}, with the plan's loss and accumulation. */
    public Trainer newTrainer(Module model, Optimizer optimizer) {
        return new Trainer(model, optimizer).loss(data != null && data.isRegression() ? Losses::mse : plan.loss())
                .accumulate(plan.accumulate()).precision(plan.precision());
    }

    /** The learning rate of every step, for epochs of {@code batchesPerEpoch} batches. */
    public LrSchedule lrSchedule(int batchesPerEpoch) {
        return plan.schedule(schedule == Schedule.COSINE, lr, Math.max(1, (long) batchesPerEpoch * epochs));
    }

    /** The model's parameters: weights and biases of every layer. */
    public long parameterCount() {
        fitted();
        return architecture.parameterCount(inputs, classes);
    }

    /** The options a resumed run must share, by command-line name, as {@link RunMetadata} writes them. */
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("data", data == null ? "unknown" : data.absolute().describe()); // files of older runs kept it relative
        o.put("label-column", Integer.toString(data == null ? -1 : data.labelColumn()));
        o.putAll(architecture.options());
        o.put("activation", activation.label());
        o.put("optimizer", optimizer.name().toLowerCase(Locale.ROOT));
        o.put("lr", Double.toString(lr));
        o.put("momentum", Double.toString(momentum));
        o.put("weight-decay", Double.toString(weightDecay));
        o.put("schedule", schedule.name().toLowerCase(Locale.ROOT));
        o.put("batch", Integer.toString(batch));
        o.put("seed", Long.toString(seed));
        o.put("limit", limit == 0 ? "none" : Integer.toString(limit));
        o.putAll(plan.options());
        return o;
    }

    /**
     * Null when a run of this spec continues {@code saved}'s (everything but the epochs equal), else what differs,
     * as "--batch 64, and this one has 32" (or "data ...").
     */
    public String differenceFrom(RunSpec saved) {
        Map<String, String> theirs = saved.options();
        for (Map.Entry<String, String> e : options().entrySet()) {
            if (!e.getValue().equals(theirs.get(e.getKey()))) {
                return (e.getKey().equals("data") ? "data " : "--" + e.getKey() + " ") + theirs.get(e.getKey())
                        + ", and this one has " + e.getValue();
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "RunSpec" + options() + (inputs == 0 ? "" : " " + layersText());
    }

    /** Builds a {@link RunSpec}; every value has the {@code train} command's default. */
    public static final class Builder {
        private DataSource data = DataSource.embeddedMnist();
        private int inputs;
        private Architecture architecture = Architecture.mlp(256, 128);
        private int classes;
        private Activation activation = Activation.RELU;
        private OptimizerKind optimizer = OptimizerKind.ADAM;
        private double lr = 1e-3;
        private double momentum = 0.9;
        private double weightDecay = Double.NaN;
        private Schedule schedule = Schedule.COSINE;
        private int batch = 64;
        private int epochs = 10;
        private long seed = DEFAULT_SEED;
        private int limit;
        private TrainingPlan plan = TrainingPlan.NONE;

        private Builder() {
        }

        public Builder data(DataSource d) {
            this.data = d;
            return this;
        }

        /** A plain MLP of these hidden widths. */
        public Builder hidden(int... sizes) {
            return architecture(Architecture.mlp(sizes));
        }

        /** The model family and shape (default: an MLP of hidden widths 256 and 128). */
        public Builder architecture(Architecture a) {
            this.architecture = a;
            return this;
        }

        /**
         * A model file's sizes, from the input's to the classes': an MLP's (a residual MLP's architecture, set after
         * them, keeps only their first and last).
         */
        Builder sizes(int[] all) {
            if (all.length < 2) {
                throw new IllegalArgumentException(Arrays.toString(all) + " needs at least an input and an output");
            }
            hidden(Arrays.copyOfRange(all, 1, all.length - 1));
            inputs = all[0];
            classes = all[all.length - 1];
            return this;
        }

        public Builder activation(Activation a) {
            this.activation = a;
            return this;
        }

        public Builder optimizer(OptimizerKind o) {
            this.optimizer = o;
            return this;
        }

        public Builder lr(double v) {
            require(v > 0 && Double.isFinite(v), "lr", v, "a positive finite number");
            this.lr = v;
            return this;
        }

        /** SGD's momentum (default 0.9). */
        public Builder momentum(double v) {
            require(v >= 0 && v < 1, "momentum", v, "in [0, 1)");
            this.momentum = v;
            return this;
        }

        /** Weight decay (default 0, for AdamW 0.01, PyTorch's). */
        public Builder weightDecay(double v) {
            require(v >= 0 && Double.isFinite(v), "weight-decay", v, "a finite number >= 0");
            this.weightDecay = v;
            return this;
        }

        public Builder schedule(Schedule s) {
            this.schedule = s;
            return this;
        }

        public Builder batch(int v) {
            require(v >= 1, "batch", v, "at least 1");
            this.batch = v;
            return this;
        }

        public Builder epochs(int v) {
            require(v >= 1, "epochs", v, "at least 1");
            this.epochs = v;
            return this;
        }

        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        /** Use only the first {@code n} training rows (0: all). */
        public Builder limit(int n) {
            require(n >= 0, "limit", n, "at least 1");
            this.limit = n;
            return this;
        }

        /** Label smoothing, accumulation and early stopping (default: none). */
        public Builder plan(TrainingPlan p) {
            this.plan = p;
            return this;
        }

        private static void require(boolean valid, String option, Object value, String what) {
            if (!valid) {
                throw new IllegalArgumentException("--" + option + " must be " + what + ", got " + value);
            }
        }

        public RunSpec build() {
            return new RunSpec(this);
        }
    }
}
