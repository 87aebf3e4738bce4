package dev.backprop4j.cli;

import dev.backprop4j.data.DataSource;
import dev.backprop4j.nn.Norm;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.train.Architecture;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.TrainingPlan;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Locale;

/**
 * The options that define a training run, one picocli option group shared by {@code train} and the Spark entry
 * point ({@code @Mixin}): the model, the optimizer and its settings, the schedule, the batch, the epochs, the seed
 * and a row limit. {@link #spec} makes them a {@link RunSpec}.
 */
public final class TrainingOptions {
    @Option(names = "--model", defaultValue = "mlp", description = "mlp (Linear layers of --layers), or resmlp "
            + "(pre-norm residual blocks: --width, --blocks, --expansion, --norm) (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--layers", paramLabel = "SIZES", description = "An mlp's hidden layer sizes (default: 256,128).")
    String layers;

    @Option(names = "--width", paramLabel = "N", description = "A resmlp's width (default: 256).")
    Integer width;

    @Option(names = "--blocks", paramLabel = "N", description = "A resmlp's residual blocks (default: 4).")
    Integer blocks;

    @Option(names = "--expansion", paramLabel = "N",
            description = "A resmlp block's inner width, as a multiple of --width (default: 4).")
    Integer expansion;

    @Option(names = "--norm", description = "layer (LayerNorm), batch (BatchNorm1d) or none: a resmlp's at the start "
            + "of each block and before the head (default: layer), an mlp's after each hidden Linear (default: none).")
    String norm;

    @Option(names = "--dropout", paramLabel = "P", defaultValue = "0",
            description = "Dropout probability after each hidden activation (default: ${DEFAULT-VALUE}).")
    double dropout;

    @Option(names = "--activation", description = "relu, leaky_relu, sigmoid, tanh, gelu (tanh form) or gelu_exact "
            + "(erf, PyTorch's default) (default: relu for an mlp, gelu for a resmlp).")
    String activation;

    @Option(names = "--epochs", defaultValue = "10", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.001", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--optimizer", defaultValue = "adam",
            description = "sgd (with --momentum), adam or adamw (default: ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD's momentum (default: ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--weight-decay", paramLabel = "WD",
            description = "Weight decay (default: 0, for adamw 0.01 as PyTorch; adamw decouples it).")
    Double weightDecay;

    @Option(names = "--schedule", defaultValue = "cosine", description = "Learning-rate schedule: constant, or "
            + "cosine (decay from --lr to 0 over the run) (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--seed", defaultValue = "42",
            description = "Seed of initialisation, shuffling and the --csv split (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--limit", paramLabel = "N", description = "Use only the first N training samples.")
    Integer limit;

    @Option(names = "--label-smoothing", paramLabel = "E", defaultValue = "0",
            description = "Cross-entropy against targets of 1 - E on the label plus E / classes on every class, as "
                    + "PyTorch's label_smoothing (default: ${DEFAULT-VALUE}).")
    double labelSmoothing;

    @Option(names = "--accumulate", paramLabel = "N", defaultValue = "1",
            description = "Compute each batch's step over N micro-batches (the same step, a fraction of the "
                    + "activation memory) (default: ${DEFAULT-VALUE}).")
    int accumulate;

    @Option(names = "--val-fraction", paramLabel = "F", defaultValue = "0",
            description = "Hold out this fraction of the training rows (seeded) and score them after every epoch "
                    + "(default: ${DEFAULT-VALUE}, none).")
    double valFraction;

    @Option(names = "--patience", paramLabel = "N", defaultValue = "0",
            description = "Stop after N epochs without a lower validation loss and keep the best epoch's weights "
                    + "(needs --val-fraction; default: ${DEFAULT-VALUE}, never stop early).")
    int patience;

    @Option(names = "--warmup", paramLabel = "STEPS", defaultValue = "0",
            description = "Raise the learning rate linearly over the first STEPS optimizer steps (from --lr / STEPS "
                    + "to --lr), then follow --schedule (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--precision", defaultValue = "fp32", description = "fp32, tf32 or bf16: the matrix products' "
            + "inputs (tf32: rounded to 10 mantissa bits, TF32 tensor cores on a GPU; bf16: autocast, bfloat16 inputs), "
            + "float32 accumulation; weights, gradients and optimizer state float32 (default: ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--decay", defaultValue = "all", description = "Which parameters --weight-decay applies to: all "
            + "(PyTorch's default), or matrices (the weights and embeddings; not biases and normalisation "
            + "parameters, as the deep-MLP recipes do) (default: ${DEFAULT-VALUE}).")
    String decay;

    /**
     * The run these options describe on {@code data} (null: rows that are not a {@link DataSource}, a DataFrame's).
     *
     * @throws IllegalArgumentException naming the option whose value is wrong
     */
    public RunSpec spec(DataSource data) {
        Architecture arch = architecture();
        String act = activation != null ? activation : arch.kind() == Architecture.Kind.MLP ? "relu" : "gelu";
        RunSpec.Builder b = RunSpec.builder().data(data).architecture(arch).activation(Activation.parse(act))
                .optimizer(choice(RunSpec.OptimizerKind.class, "--optimizer", optimizer)).lr(lr).momentum(momentum)
                .schedule(choice(RunSpec.Schedule.class, "--schedule", schedule)).batch(batch).epochs(epochs)
                .seed(seed).limit(limit == null ? 0 : limit)
                .plan(new TrainingPlan(labelSmoothing, accumulate, valFraction, patience, warmup,
                        TrainingPlan.parseDecay(decay), Autocast.parse(precision)));
        if (data != null && data.isRegression() && labelSmoothing > 0) {
            throw new IllegalArgumentException("--label-smoothing applies to classes, not to --task regress");
        }
        if (limit != null && limit <= 0) {
            throw new IllegalArgumentException("--limit must be at least 1, got " + limit);
        }
        if (weightDecay != null) {
            b.weightDecay(weightDecay);
        }
        return b.build();
    }

    /** The model --model and its options describe; options of the other model family are refused, by name. */
    private Architecture architecture() {
        Architecture.Kind kind = choice(Architecture.Kind.class, "--model", model);
        if (kind == Architecture.Kind.MLP) {
            for (Object[] o : new Object[][] {{"--width", width}, {"--blocks", blocks}, {"--expansion", expansion}}) {
                if (o[1] != null) {
                    throw new IllegalArgumentException(o[0] + " applies to --model resmlp; an mlp takes --layers");
                }
            }
            return Architecture.mlp(Architecture.parseSizes(layers == null ? "256,128" : layers, "--layers"))
                    .withNorm(choice(Norm.class, "--norm", norm == null ? "none" : norm)).withDropout(dropout);
        }
        if (layers != null) {
            throw new IllegalArgumentException("--layers applies to --model mlp; a resmlp takes --width and --blocks");
        }
        Norm n = choice(Norm.class, "--norm", norm == null ? "layer" : norm);
        return Architecture.resMlp(width == null ? 256 : width, blocks == null ? 4 : blocks,
                expansion == null ? 4 : expansion, n).withDropout(dropout);
    }

    private static <E extends Enum<E>> E choice(Class<E> type, String option, String text) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text)) {
                return e;
            }
        }
        throw new IllegalArgumentException(option + " must be one of " + Arrays.stream(type.getEnumConstants())
                .map(e -> e.name().toLowerCase(Locale.ROOT)).toList() + ", got '" + text + "'");
    }
}
