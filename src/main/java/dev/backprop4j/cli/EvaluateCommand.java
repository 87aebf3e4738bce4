package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.train.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.Locale;
import java.util.concurrent.Callable;

/** Evaluates a saved model on the test set. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, description = "Test loss and accuracy of a saved model.")
final class EvaluateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    SavedModelOptions saved = new SavedModelOptions();

    @Override
    public Integer call() throws Exception {
        Device dev = saved.device(spec);
        DataSource source = saved.data(data, spec);
        Dataset test = source.load(saved.spec().seed(), saved.spec().architecture().tabular()).test();
        saved.requireFits(test, source);
        try (Sequential net = saved.load(dev, 1000)) {
            Evaluation e = Evaluation.of(net, new DataLoader(test, 1000, false, 0, false, dev));
            var table = saved.spec().architecture().tabular();
            spec.commandLine().getOut().printf(Locale.ROOT, "%s on %s: test loss %.4f, %s (%,d samples)%n",
                    saved.model, source.describe(), e.loss(), Score.regression(table) ? "RMSE " + Score.rmse(e.loss(),
                    table) : String.format(Locale.ROOT, "accuracy %.2f%%", 100 * e.accuracy()), e.samples());
        }
        return 0;
    }

}
