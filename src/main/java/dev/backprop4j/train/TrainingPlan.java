package dev.backprop4j.train;

import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.Tensor;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * How the training loop trains, beyond the model and the optimizer: label smoothing of the cross-entropy (as
 * PyTorch's {@code label_smoothing}), gradient accumulation (each batch's step computed over {@code accumulate}
 * micro-batches, the same step in a fraction of the activation memory), and early stopping (a seeded validation
 * split of {@code valFraction} of the training rows, scored after every epoch; with {@code patience} the run stops
 * after that many epochs without a lower validation loss and ends with the best epoch's weights). The defaults are
 * none of them: {@link #NONE}.
 */
public record TrainingPlan(double labelSmoothing, int accumulate, double valFraction, int patience)
        implements Serializable {

    /** Plain training: no smoothing, one pass per batch, no validation split. */
    public static final TrainingPlan NONE = new TrainingPlan(0, 1, 0, 0);

    /** @throws IllegalArgumentException naming the option whose value is out of range */
    public TrainingPlan {
        require(labelSmoothing >= 0 && labelSmoothing < 1, "--label-smoothing must be in [0, 1), got " + labelSmoothing);
        require(accumulate >= 1, "--accumulate must be at least 1, got " + accumulate);
        require(valFraction >= 0 && valFraction < 1, "--val-fraction must be in [0, 1), got " + valFraction);
        require(patience >= 0, "--patience must be at least 0 (0: no early stopping), got " + patience);
        require(patience == 0 || valFraction > 0, "--patience needs a validation split: give --val-fraction too");
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

    /** The options, by command-line name, as {@link RunMetadata} writes them. */
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("label-smoothing", Double.toString(labelSmoothing));
        o.put("accumulate", Integer.toString(accumulate));
        o.put("val-fraction", Double.toString(valFraction));
        o.put("patience", Integer.toString(patience));
        return o;
    }

    /** This plan with one option set from its command-line name and text; null for a name that is not its. */
    TrainingPlan with(String name, String text) {
        return switch (name) {
            case "label-smoothing" -> new TrainingPlan(Double.parseDouble(text), accumulate, valFraction, patience);
            case "accumulate" -> new TrainingPlan(labelSmoothing, Integer.parseInt(text), valFraction, patience);
            case "val-fraction" -> new TrainingPlan(labelSmoothing, accumulate, Double.parseDouble(text), patience);
            case "patience" -> new TrainingPlan(labelSmoothing, accumulate, valFraction, Integer.parseInt(text));
            default -> null;
        };
    }
}
