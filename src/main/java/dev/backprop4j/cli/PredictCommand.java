package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.Mnist;
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
                + "probability.")
final class PredictCommand implements Callable<Integer> {
    private static final String SHADES = " .:-=+*#%@";

    @Spec
    CommandSpec spec;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    SavedModelOptions saved = new SavedModelOptions();

    @Option(names = "--image", required = true, paramLabel = "N", description = "Index of the test image.")
    int image;

    @Override
    public Integer call() throws Exception {
        Device dev = saved.device(spec);
        DataSource source = saved.data(data, spec);
        Dataset test = source.load(saved.spec().seed()).test();
        saved.requireFits(test, source);
        if (image < 0 || image >= test.size()) {
            throw new IllegalArgumentException("--image " + image + " is outside the test set [0, " + test.size() + ")");
        }
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
            out.println("features: " + Arrays.toString(x));
        }
        try (Sequential net = saved.load(dev, 1); GradMode.Guard off = GradMode.noGrad()) {
            net.eval();
            float[] p = net.forward(Tensor.of(x, 1, x.length).to(dev)).softmax(1).toFloatArray();
            int best = 0;
            for (int i = 1; i < p.length; i++) {
                if (p[i] > p[best]) {
                    best = i;
                }
            }
            out.printf(Locale.ROOT, "image %d: predicted %d with probability %.1f%% (label %d)%n",
                    image, best, 100 * p[best], test.label(image));
        }
        return 0;
    }
}
