package dev.backprop4j.spark;

import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;
import picocli.CommandLine;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The Param objects of one estimator's {@link MlpParams} (Spark ties a Param to its owner's uid, so each estimator
 * makes its own), with the {@code train} command's defaults, and the run they describe ({@link #job}).
 */
public final class RunParams implements Serializable {
    private static final long serialVersionUID = 1L;

    final Param<String> architecture;
    final IntArrayParam layers;
    final IntParam width;
    final IntParam blocks;
    final IntParam expansion;
    final Param<String> norm;
    final DoubleParam dropout;
    final Param<String> activation;
    final Param<String> optimizer;
    final DoubleParam lr;
    final DoubleParam momentum;
    final DoubleParam weightDecay;
    final Param<String> decay;
    final Param<String> schedule;
    final IntParam warmup;
    final DoubleParam labelSmoothing;
    final Param<String> precision;
    final IntParam batchSize;
    final IntParam epochs;
    final LongParam seed;
    final IntParam numWorkers;
    final Param<String> device;
    final Param<String> checkpointPath;

    /** The Params of {@code owner}, whose uid they take, with their defaults set on it. */
    RunParams(Params owner) {
        architecture = new Param<>(owner, "architecture", "mlp (Linear layers of the widths in layers) or resmlp "
                + "(pre-norm residual blocks: width, blocks, expansion)");
        layers = new IntArrayParam(owner, "layers", "An mlp's hidden layer widths");
        width = new IntParam(owner, "width", "A resmlp's width (default 256)");
        blocks = new IntParam(owner, "blocks", "A resmlp's residual blocks (default 4)");
        expansion = new IntParam(owner, "expansion", "A resmlp block's inner width as a multiple of width (default 4)");
        norm = new Param<>(owner, "norm", "layer or none (default: layer for a resmlp, none for an mlp; batch norm "
                + "is refused: each worker would normalise its own share of the batch)");
        dropout = new DoubleParam(owner, "dropout", "Dropout probability after each hidden activation");
        activation = new Param<>(owner, "activation", "relu, leaky_relu, sigmoid, tanh, gelu or gelu_exact "
                + "(default: relu for an mlp, gelu for a resmlp)");
        optimizer = new Param<>(owner, "optimizer", "sgd (with momentum), adam or adamw");
        lr = new DoubleParam(owner, "lr", "Learning rate");
        momentum = new DoubleParam(owner, "momentum", "SGD's momentum");
        weightDecay = new DoubleParam(owner, "weightDecay", "Weight decay (default 0, for adamw 0.01 as PyTorch's)");
        decay = new Param<>(owner, "decay", "Which parameters weightDecay applies to: all, or matrices (not biases "
                + "and norms)");
        schedule = new Param<>(owner, "schedule", "constant, or cosine (from lr down to 0 over the run)");
        warmup = new IntParam(owner, "warmup", "Steps of linear learning-rate warmup before the schedule");
        labelSmoothing = new DoubleParam(owner, "labelSmoothing", "Cross-entropy label smoothing, as PyTorch's "
                + "label_smoothing (classifiers)");
        precision = new Param<>(owner, "precision", "fp32, tf32 or bf16 (autocast: bfloat16 matrix-product inputs; "
                + "float32 weights, gradients and accumulation)");
        batchSize = new IntParam(owner, "batchSize", "The global batch, over all workers");
        epochs = new IntParam(owner, "epochs", "Epochs");
        seed = new LongParam(owner, "seed", "Seed of initialisation and shuffling");
        numWorkers = new IntParam(owner, "numWorkers", "Barrier tasks, one per partition (default: Spark's default "
                + "parallelism)");
        device = new Param<>(owner, "device", "auto (the task's GPU when there is a real one, else the CPU), cpu, "
                + "or cuda");
        checkpointPath = new Param<>(owner, "checkpointPath", "A file every executor can reach, written after every "
                + "epoch and resumed from when Spark runs a failed stage again");
        owner.setDefault(architecture, "mlp");
        owner.setDefault(layers, new int[] {256, 128});
        owner.setDefault(dropout, 0.0);
        owner.setDefault(optimizer, "adam");
        owner.setDefault(lr, 1e-3);
        owner.setDefault(momentum, 0.9);
        owner.setDefault(decay, "all");
        owner.setDefault(schedule, "cosine");
        owner.setDefault(warmup, 0);
        owner.setDefault(labelSmoothing, 0.0);
        owner.setDefault(precision, "fp32");
        owner.setDefault(batchSize, 64);
        owner.setDefault(epochs, 10);
        owner.setDefault(seed, 42L);
        owner.setDefault(device, "auto");
    }

    /** The Params by the {@code train} command's option names. */
    private Map<Param<?>, String> options() {
        Map<Param<?>, String> o = new LinkedHashMap<>();
        o.put(architecture, "--model");
        o.put(layers, "--layers");
        o.put(width, "--width");
        o.put(blocks, "--blocks");
        o.put(expansion, "--expansion");
        o.put(norm, "--norm");
        o.put(dropout, "--dropout");
        o.put(activation, "--activation");
        o.put(optimizer, "--optimizer");
        o.put(lr, "--lr");
        o.put(momentum, "--momentum");
        o.put(weightDecay, "--weight-decay");
        o.put(decay, "--decay");
        o.put(schedule, "--schedule");
        o.put(warmup, "--warmup");
        o.put(labelSmoothing, "--label-smoothing");
        o.put(precision, "--precision");
        o.put(batchSize, "--batch");
        o.put(epochs, "--epochs");
        o.put(seed, "--seed");
        o.put(numWorkers, "--workers");
        o.put(device, "--device");
        o.put(checkpointPath, "--checkpoint");
        return o;
    }

    /**
     * The job {@code owner}'s Params describe, parsed and checked by the {@code train} command's option parser (an
     * mlp's default layers are left out of a resmlp's); its run names no data source (the rows are a DataFrame's).
     *
     * @param failAt fault injection for tests ("RANK:STEP", as SparkTrain's --fail-at), or null
     * @throws IllegalArgumentException naming the Param whose value is wrong, after the estimator's class
     */
    SparkTrainOptions.Job job(Params owner, String failAt) {
        Map<Param<?>, String> options = options();
        List<String> args = new ArrayList<>();
        boolean resMlp = "resmlp".equals(owner.getOrDefault(architecture));
        options.forEach((param, option) -> {
            if (owner.isDefined(param) && !(param == layers && resMlp && !owner.isSet(layers))) {
                Object v = owner.getOrDefault(param);
                args.add(option);
                args.add(v instanceof int[] ints ? Arrays.stream(ints).mapToObj(Integer::toString)
                        .collect(Collectors.joining(",")) : String.valueOf(v));
            }
        });
        if (failAt != null) {
            args.addAll(List.of("--fail-at", failAt));
        }
        try {
            SparkTrainOptions o = new SparkTrainOptions();
            new CommandLine(o).parseArgs(args.toArray(new String[0]));
            return o.job(null);
        } catch (IllegalArgumentException | CommandLine.ParameterException e) {
            Map<String, String> names = new LinkedHashMap<>();
            options.forEach((param, option) -> names.put(option, param.name()));
            Matcher m = Pattern.compile("--[a-z-]+").matcher(e.getMessage());
            StringBuilder sb = new StringBuilder(owner.getClass().getSimpleName() + ": ");
            while (m.find()) {
                m.appendReplacement(sb, Matcher.quoteReplacement(names.getOrDefault(m.group(), m.group())));
            }
            throw new IllegalArgumentException(m.appendTail(sb).toString(), e);
        }
    }
}
