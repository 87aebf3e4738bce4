package dev.backprop4j.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

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
                .setUnit(" samples", 1).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(err, columns() - 1)).build() : null;
    }

    /** Shows {@code done} of the epoch's samples and a short status ("loss 0.41  acc 88.0%  9,000 samples/s"). */
    void update(long done, String status) {
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(" " + status);
            return;
        }
        int quarter = (int) (4 * done / Math.max(1, max));
        if (quarter > quartersShown && quarter < 4) {
            quartersShown = quarter;
            err.printf(Locale.ROOT, "%s  %3d%%  %,d/%,d samples  %s%n", task, 25 * quarter, done, max, status);
            err.flush();
        }
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
