package dev.backprop4j.cli;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Loss and accuracy per epoch as a two-panel PNG (XChart), written atomically. */
final class TrainingChart {
    private TrainingChart() {
    }

    /** One epoch's numbers. */
    record Point(int epoch, double trainLoss, double testLoss, double trainAccuracy, double testAccuracy) {
    }

    static void save(Path file, List<Point> points, String title) throws IOException {
        double[] x = points.stream().mapToDouble(Point::epoch).toArray();
        XYChart loss = new XYChartBuilder().width(640).height(420).title(title + ": loss")
                .xAxisTitle("epoch").yAxisTitle("cross-entropy").build();
        loss.addSeries("train", x, points.stream().mapToDouble(Point::trainLoss).toArray());
        loss.addSeries("test", x, points.stream().mapToDouble(Point::testLoss).toArray());
        XYChart acc = new XYChartBuilder().width(640).height(420).title(title + ": accuracy")
                .xAxisTitle("epoch").yAxisTitle("accuracy (%)").build();
        acc.addSeries("train", x, points.stream().mapToDouble(p -> 100 * p.trainAccuracy()).toArray());
        acc.addSeries("test", x, points.stream().mapToDouble(p -> 100 * p.testAccuracy()).toArray());
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                BitmapEncoder.saveBitmap(List.of(loss, acc), 1, 2, out, BitmapEncoder.BitmapFormat.PNG);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
