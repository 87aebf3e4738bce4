package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/** Mean softmax cross-entropy loss and accuracy of a classifier over a data set. */
public record Evaluation(double loss, double accuracy, int samples) {

    /** Evaluates {@code model} (switched to eval mode, then back) on every batch of {@code loader}. */
    public static Evaluation of(Module model, DataLoader loader) {
        boolean wasTraining = model.isTraining();
        model.eval();
        double lossSum = 0;
        long correct = 0;
        int n = 0;
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (DataLoader.Batch b : loader.epoch(0)) {
                try (Scope step = Scope.open(); b) {
                    Tensor logits = model.forward(b.x());
                    lossSum += Losses.crossEntropy(logits, b.y()).item() * b.size();
                    correct += correct(logits, b.y());
                    n += b.size();
                }
            }
        } finally {
            if (wasTraining) {
                model.train();
            }
        }
        return new Evaluation(n == 0 ? Double.NaN : lossSum / n, n == 0 ? Double.NaN : (double) correct / n, n);
    }

    /** Number of rows whose largest logit is at the label. */
    public static long correct(Tensor logits, Tensor labels) {
        try (Tensor predicted = logits.argmax(1)) {
            return logits.backend().countEqual(predicted.buffer(), labels.buffer(), labels.size());
        }
    }
}
