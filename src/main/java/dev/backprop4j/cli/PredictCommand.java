package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.Mnist;
import dev.backprop4j.data.TabularEncoding;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** Shows one test image as text and the model's prediction for it. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Print test image N as text art (a CSV row as its features) with the predicted class and its "
                + "probability (a regression model's predicted number).")
final class PredictCommand implements Callable<Integer> {
    private static final String SHADES = " .:-=+*#%@";

    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    SavedModelOptions saved = new SavedModelOptions();

    @Option(names = {"--image", "--row"}, required = true, paramLabel = "N",
            description = "Index of the test image (of a CSV's test row).")
    int image;

    @Override
    public Integer call() throws Exception {
        Device dev = saved.device(spec);
        DataSource source = saved.data(data, spec);
        Dataset test = source.load(saved.spec().seed(), saved.spec().architecture().tabular()).test();
        saved.requireFits(test, source);
        if (image < 0 || image >= test.size()) {
            throw new IllegalArgumentException("--image " + image + " is outside the test set [0, " + test.size() + ")");
        }
        TabularEncoding table = saved.spec().architecture().tabular();
        PrintWriter out = spec.commandLine().getOut();
        float[] x = test.sample(image);
        int side = (int) Math.round(Math.sqrt(x.length));
        if (source.isMnist() && side * side == x.length) { // MNIST images as text art; CSV rows are not pictures
            for (int r = 0; r < side; r++) {
                StringBuilder line = new StringBuilder();
                for (int c = 0; c < side; c++) {
                    float v = Math.max(0, Math.min(1, x[r * side + c] * Mnist.STD + Mnist.MEAN));
                    char ch = SHADES.charAt(Math.round(v * (SHADES.length() - 1)));
                    line.append(ch).append(ch);
                }
                out.println(line.toString().replaceAll("\\s+$", ""));
            }
        } else {
            out.println(table == null ? "features: " + Arrays.toString(x) : table.describe(x));
        }
        try (Sequential net = saved.load(dev, 1); GradMode.Guard off = GradMode.noGrad()) {
            net.eval();
            if (Score.regression(table)) {
                float predicted = net.forward(Tensor.of(x, 1, x.length).to(dev)).toFloatArray()[0];
                out.printf(Locale.ROOT, "row %d: predicted %s (target %s)%n", image,
                        TabularEncoding.number(table.targetValue(predicted)),
                        TabularEncoding.number(table.targetValue(test.target(image))));
                return 0;
            }
            float[] p = net.forward(Tensor.of(x, 1, x.length).to(dev)).softmax(1).toFloatArray();
            int best = 0;
            for (int i = 1; i < p.length; i++) {
                if (p[i] > p[best]) {
                    best = i;
                }
            }
            out.printf(Locale.ROOT, "%s %d: predicted %s with probability %.1f%% (label %s)%n",
                    table == null ? "image" : "row", image, className(table, best), 100 * p[best],
                    className(table, test.label(image)));
        }
        return 0;
    }

    /** Class {@code k} as the user knows it: a table's label value (quoted), else the number. */
    private static String className(TabularEncoding table, int k) {
        return table == null ? Integer.toString(k) : "'" + table.classes().get(k) + "'";
    }
}
