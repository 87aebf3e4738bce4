package dev.backprop4j.cli;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.backprop4j.core.Excerpt;
import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.io.CheckpointException;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Loss and accuracy per epoch as a two-panel image (XChart) in the format of the file's extension, written atomically. */
final class TrainingChart {
    private TrainingChart() {
    }

    /** One epoch's numbers. */
    record Point(int epoch, double trainLoss, double testLoss, double trainAccuracy, double testAccuracy) {
    }

    /** The metadata key of a --checkpoint file's history, which --resume reads back for --plot. */
    static final String HISTORY = "backprop4j.run.history";

    /** The points as JSON, for {@link #HISTORY}. */
    static String toJson(List<Point> points) {
        return new Gson().toJson(points);
    }

    /** The points of a --checkpoint file's metadata (none when absent). */
    static List<Point> history(Map<String, String> meta, Path file) {
        try {
            List<Point> points = new ArrayList<>();
            for (JsonElement p : JsonParser.parseString(meta.getOrDefault(HISTORY, "[]")).getAsJsonArray()) {
                points.add(new Gson().fromJson(p, Point.class));
            }
            return points;
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": malformed " + HISTORY + " (" + Excerpt.of(e.getMessage()) + ")");
        }
    }

    /**
     * The image format (ImageIO's name) of {@code file}'s extension: png, jpg (also .jpeg), gif, bmp.
     *
     * @throws IllegalArgumentException naming the file for any other extension
     */
    static String format(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        int dot = name.lastIndexOf('.');
        String ext = dot < 0 ? "" : name.substring(dot + 1);
        return switch (ext) {
            case "png", "gif", "bmp" -> ext;
            case "jpg", "jpeg" -> "jpg";
            default -> throw new IllegalArgumentException("--plot " + file + ": the chart is written as .png, .jpg, "
                    + ".gif or .bmp, by the file's extension");
        };
    }

    /**
     * Writes the chart of {@code points}: loss and accuracy, or for a regression model ({@code targetDeviation} not
     * NaN: the target's deviation, the unit of its standardised loss) mean squared error and RMSE in the target's
     * units.
     */
    static void save(Path file, List<Point> points, String title, double targetDeviation) throws IOException {
        String format = format(file);
        boolean regression = !Double.isNaN(targetDeviation);
        double[] x = points.stream().mapToDouble(Point::epoch).toArray();
        XYChart loss = chart(title + ": loss", regression ? "mean squared error (standardised)" : "cross-entropy");
        loss.addSeries("train", x, points.stream().mapToDouble(Point::trainLoss).toArray());
        loss.addSeries("test", x, points.stream().mapToDouble(Point::testLoss).toArray());
        XYChart acc = chart(title + (regression ? ": RMSE" : ": accuracy"), regression ? "RMSE" : "accuracy (%)");
        acc.addSeries("train", x, points.stream().mapToDouble(p -> regression
                ? Math.sqrt(p.trainLoss()) * targetDeviation : 100 * p.trainAccuracy()).toArray());
        acc.addSeries("test", x, points.stream().mapToDouble(p -> regression
                ? Math.sqrt(p.testLoss()) * targetDeviation : 100 * p.testAccuracy()).toArray());
        // one opaque RGB image of both panels: JPEG and BMP have no alpha channel to write
        BufferedImage image = new BufferedImage(2 * WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.drawImage(BitmapEncoder.getBufferedImage(loss), 0, 0, null);
        g.drawImage(BitmapEncoder.getBufferedImage(acc), WIDTH, 0, null);
        g.dispose();
        AtomicFile.write(file, ch -> {
            OutputStream out = Channels.newOutputStream(ch);
            if (!ImageIO.write(image, format, out)) {
                throw new IOException("no image writer for " + format);
            }
            out.flush();
        });
    }

    private static final int WIDTH = 640;
    private static final int HEIGHT = 420;

    private static XYChart chart(String title, String yAxis) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("epoch").yAxisTitle(yAxis).build();
        c.getStyler().setXAxisDecimalPattern("0");
        c.getStyler().setYAxisDecimalPattern("0.###");
        return c;
    }
}
