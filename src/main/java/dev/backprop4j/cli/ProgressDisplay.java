package dev.backprop4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The live progress of one epoch on standard error. In a terminal: a bar redrawn in place, never wider than the
 * terminal (80 columns included), so a refresh never wraps. Anywhere else (a log file, a pipe, a CI console): a
 * plain line at each quarter of the epoch, with no carriage returns. The launcher that restarts the JVM with the
 * Vector API passes what it saw of the terminal to the child ({@link #TERMINAL}, {@link #COLUMNS}), whose standard
 * error is a pipe.
 */
final class ProgressDisplay implements AutoCloseable {
    static final String TERMINAL = "backprop4j.stderr.terminal";
    static final String COLUMNS = "backprop4j.terminal.columns";

    private final PrintStream err;
    private final String task;
    private final long max;
    private final ProgressBar bar;
    private int quartersShown;

    ProgressDisplay(String task, long max, PrintStream err) {
        this.err = err;
        this.task = task;
        this.max = max;
        this.bar = stderrIsTerminal() ? new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
                .setUpdateIntervalMillis(250).setRenderer((state, width) -> render(state.getTaskName(),
                        state.getCurrent(), state.getMax(), state.getTotalElapsed(), state.getExtraMessage(), width))
                .setConsumer(new ConsoleProgressBarConsumer(err, columns() - 1)).build() : null;
    }

    /**
     * Shows {@code done} of the epoch's samples with the running loss and accuracy and the speed; in a terminal the
     * line keeps the loss, the accuracy and the ETA at any width down to 80 columns, giving up the bar first and the
     * speed next.
     */
    void update(long done, double loss, double accuracy, double samplesPerSecond) {
        String status = Double.isNaN(accuracy) ? String.format(Locale.ROOT, "loss %.4f", loss) // a regression
                : String.format(Locale.ROOT, "loss %.4f  acc %.1f%%", loss, 100 * accuracy);
        String speed = String.format(Locale.ROOT, "%,.0f samples/s", samplesPerSecond);
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(status + SPEED + speed);
            return;
        }
        int quarter = (int) (4 * done / Math.max(1, max));
        if (quarter > quartersShown && quarter < 4) {
            quartersShown = quarter;
            err.printf(Locale.ROOT, "%s  %3d%%  %,d/%,d samples  %s  %s%n", task, 25 * quarter, done, max, status,
                    speed);
            err.flush();
        }
    }

    /** Between the status a line must keep and the speed it may drop, in the bar's extra message. */
    private static final String SPEED = "\u0000";

    /**
     * One frame of the bar, at most {@code width} characters: "epoch  1/10  42% [=====>    ] loss 0.4123  acc
     * 88.1%  9,000 samples/s  ETA 0:02". The bar shrinks first (and goes below 5 characters), then the speed goes;
     * the task, the percentage, the loss, the accuracy and the ETA stay.
     */
    static String render(String task, long done, long max, java.time.Duration elapsed, String extra, int width) {
        String[] parts = (extra == null ? "" : extra).split(SPEED, 2);
        String status = parts[0].trim();
        String speed = parts.length > 1 ? parts[1] : "";
        long pct = max <= 0 ? 100 : Math.min(100, 100 * done / max);
        long etaSeconds = done <= 0 ? -1 : Math.round(elapsed.toMillis() / 1000.0 * (max - done) / done);
        String eta = etaSeconds < 0 ? "ETA -:--" : String.format(Locale.ROOT, "ETA %d:%02d", etaSeconds / 60,
                etaSeconds % 60);
        String head = String.format(Locale.ROOT, "%s %3d%%", task, pct);
        String tail = speed.isEmpty() ? status + "  " + eta : status + "  " + speed + "  " + eta;
        int room = width - head.length() - tail.length() - 4; // " [" + "] "
        if (room >= 5) {
            int filled = (int) (room * pct / 100);
            return head + " [" + "=".repeat(filled) + " ".repeat(room - filled) + "] " + tail;
        }
        String line = head + "  " + tail;
        if (line.length() > width) {
            line = head + "  " + status + "  " + eta;
        }
        return line.length() <= width ? line : line.substring(0, Math.max(0, width));
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }

    /** Whether standard error is a terminal: the launcher's word, else Linux's /proc/self/fd/2. */
    static boolean stderrIsTerminal() {
        String given = System.getProperty(TERMINAL);
        if (given != null) {
            return Boolean.parseBoolean(given);
        }
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return false;
        }
    }

    /** The terminal's width: the launcher's word, else $COLUMNS, else {@code stty size} of /dev/tty, else 80. */
    static int columns() {
        Integer given = Integer.getInteger(COLUMNS);
        if (given != null && given > 0) {
            return given;
        }
        try {
            int c = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "").trim());
            if (c > 0) {
                return c;
            }
        } catch (NumberFormatException e) {
            // not exported: ask the terminal
        }
        try {
            Process p = new ProcessBuilder("sh", "-c", "stty size < /dev/tty").redirectErrorStream(true).start();
            if (p.waitFor(1, TimeUnit.SECONDS) && p.exitValue() == 0) {
                String[] rowsCols = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim()
                        .split("\\s+");
                int c = Integer.parseInt(rowsCols[1]);
                if (c > 0) {
                    return c;
                }
            }
            p.destroy();
        } catch (Exception e) {
            // no terminal, or no stty
        }
        return 80;
    }
}
