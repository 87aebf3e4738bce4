package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/**
 * Mean softmax cross-entropy loss and accuracy of a classifier over a data set, or of a regression model (float
 * targets) its mean squared error, with accuracy NaN.
 */
public record Evaluation(double loss, double accuracy, int samples) {

    /**
     * Evaluates {@code model} (switched to eval mode, then back) on every batch of {@code loader}; the totals
     * accumulate on the model's device and are read once, at the end.
     */
    public static Evaluation of(Module model, DataLoader loader) {
        boolean wasTraining = model.isTraining();
        model.eval();
        try (GradMode.Guard off = GradMode.noGrad();
             RunningMetrics totals = new RunningMetrics(Integer.MAX_VALUE)) {
            totals.reset();
            boolean regression = loader.dataset().isRegression();
            for (DataLoader.Batch b : loader.epoch(0)) {
                try (Scope step = Scope.open(); b) {
                    Tensor logits = model.forward(b.x());
                    totals.add(regression ? Losses.mse(logits, b.y()) : Losses.crossEntropy(logits, b.y()), logits,
                            b.y());
                }
            }
            RunningMetrics.Totals t = totals.await();
            long n = t.samples();
            return new Evaluation(n == 0 ? Double.NaN : t.meanLoss(), n == 0 || regression ? Double.NaN
                    : t.accuracy(), (int) n);
        } finally {
            if (wasTraining) {
                model.train();
            }
        }
    }

    /** Number of rows whose largest logit is at the label. */
    public static long correct(Tensor logits, Tensor labels) {
        try (Tensor predicted = logits.argmax(1)) {
            return predicted.countEqual(labels);
        }
    }
}
