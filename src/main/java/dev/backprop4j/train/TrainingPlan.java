package dev.backprop4j.train;

import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tensor;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * How the training loop trains, beyond the model, the optimizer's kind and its rate: label smoothing of the
 * cross-entropy (as PyTorch's {@code label_smoothing}), gradient accumulation (each batch's step computed over
 * {@code accumulate} micro-batches, the same step in a fraction of the activation memory), early stopping (a seeded
 * validation split of {@code valFraction} of the training rows, scored after every epoch; with {@code patience} the
 * run stops after that many epochs without a lower validation loss and ends with the best epoch's weights), a linear
 * warmup of the learning rate over the first {@code warmup} steps, and weight decay on the weight matrices only
 * ({@code decayMatricesOnly}: none on biases and normalisation parameters, the parameters of rank 1, as the deep-MLP
 * recipes, timm's {@code filter_bias_and_bn} and Hugging Face's Trainer do), and the precision of the matrix
 * products (the forward and loss under {@link Autocast#of}: FP32, TF32 or BF16). The defaults are none of them:
 * {@link #NONE}.
 */
public record TrainingPlan(double labelSmoothing, int accumulate, double valFraction, int patience, int warmup,
                           boolean decayMatricesOnly, Autocast.Precision precision) implements Serializable {

    /** Plain training: no smoothing, one pass per batch, no validation split, no warmup, decay on every parameter. */
    public static final TrainingPlan NONE = new TrainingPlan(0, 1, 0, 0, 0, false, Autocast.Precision.FP32);

    /** @throws IllegalArgumentException naming the option whose value is out of range */
    public TrainingPlan {
        require(labelSmoothing >= 0 && labelSmoothing < 1, "--label-smoothing must be in [0, 1), got " + labelSmoothing);
        require(accumulate >= 1, "--accumulate must be at least 1, got " + accumulate);
        require(valFraction >= 0 && valFraction < 1, "--val-fraction must be in [0, 1), got " + valFraction);
        require(patience >= 0, "--patience must be at least 0 (0: no early stopping), got " + patience);
        require(patience == 0 || valFraction > 0, "--patience needs a validation split: give --val-fraction too");
        require(warmup >= 0, "--warmup must be at least 0 steps, got " + warmup);
        require(precision != null, "--precision must be given");
    }

    /** Label smoothing, accumulation and early stopping; no warmup, decay on every parameter. */
    public TrainingPlan(double labelSmoothing, int accumulate, double valFraction, int patience) {
        this(labelSmoothing, accumulate, valFraction, patience, 0, false, Autocast.Precision.FP32);
    }

    private static void require(boolean valid, String message) {
        if (!valid) {
            throw new IllegalArgumentException(message);
        }
    }

    /** The batch's loss the trainer minimises: mean cross-entropy, smoothed as asked. */
    BiFunction<Tensor, Tensor, Tensor> loss() {
        double s = labelSmoothing;
        return s == 0 ? Losses::crossEntropy : (logits, labels) -> Losses.crossEntropy(logits, labels, s,
                Losses.Reduction.MEAN);
    }

    /** {@code optimizer} of {@code model}, with the biases and normalisation parameters exempt from decay if asked. */
    Optimizer decayGroups(Optimizer optimizer, Module model) {
        return decayMatricesOnly ? optimizer.noDecay(model.parameters().stream().filter(p -> p.rank() < 2).toList())
                : optimizer;
    }

    /**
     * The learning rate of a run of {@code steps} steps from {@code lr}: after the warmup (linear, lr / warmup at
     * the first step), constant or ({@code cosine}) decaying to 0 at the last step.
     *
     * @throws IllegalArgumentException when the warmup is not shorter than the run
     */
    LrSchedule schedule(boolean cosine, double lr, long steps) {
        require(warmup < steps, "--warmup " + warmup + " must be shorter than the run's " + steps + " steps");
        return cosine ? LrSchedule.cosineWithWarmup(lr, warmup, steps, 0) : LrSchedule.constantWithWarmup(lr, warmup);
    }

    /** The options, by command-line name, as {@link RunMetadata} writes them. */
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("label-smoothing", Double.toString(labelSmoothing));
        o.put("accumulate", Integer.toString(accumulate));
        o.put("val-fraction", Double.toString(valFraction));
        o.put("patience", Integer.toString(patience));
        o.put("warmup", Integer.toString(warmup));
        o.put("decay", decayMatricesOnly ? "matrices" : "all");
        o.put("precision", precision.name().toLowerCase(java.util.Locale.ROOT));
        return o;
    }

    /** This plan with one option set from its command-line name and text; null for a name that is not its. */
    TrainingPlan with(String name, String text) {
        double ls = labelSmoothing;
        int acc = accumulate;
        double val = valFraction;
        int pat = patience;
        int warm = warmup;
        boolean matrices = decayMatricesOnly;
        Autocast.Precision mixed = precision;
        switch (name) {
            case "label-smoothing" -> ls = Double.parseDouble(text);
            case "accumulate" -> acc = Integer.parseInt(text);
            case "val-fraction" -> val = Double.parseDouble(text);
            case "patience" -> pat = Integer.parseInt(text);
            case "warmup" -> warm = Integer.parseInt(text);
            case "decay" -> matrices = parseDecay(text);
            case "precision" -> mixed = Autocast.parse(text);
            default -> {
                return null;
            }
        }
        return new TrainingPlan(ls, acc, val, pat, warm, matrices, mixed);
    }

    /** "all" (false) or "matrices" (true), the values of --decay. */
    public static boolean parseDecay(String text) {
        return switch (text) {
            case "all" -> false;
            case "matrices" -> true;
            default -> throw new IllegalArgumentException("--decay must be all or matrices, got '" + text + "'");
        };
    }
}
