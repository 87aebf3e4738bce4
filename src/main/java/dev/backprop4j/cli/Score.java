package dev.backprop4j.cli;

import dev.backprop4j.data.TabularEncoding;

import java.util.Locale;

/**
 * How a model's score reads on the command line: a classifier's accuracy ("acc 95.10%"), or for a regression model,
 * whose loss is the mean squared error of the standardised target, the root mean squared error in the target's own
 * units ("rmse 12.3").
 */
final class Score {
    private Score() {
    }

    /** Whether {@code table} (null: not a table) is a regression model's encoding. */
    static boolean regression(TabularEncoding table) {
        return table != null && table.isRegression();
    }

    /** "acc 95.10%", or "rmse 12.3" for a regression model's loss. */
    static String of(double loss, double accuracy, TabularEncoding table) {
        return regression(table) ? "rmse " + rmse(loss, table)
                : String.format(Locale.ROOT, "acc %5.2f%%", 100 * accuracy);
    }

    /** A regression model's RMSE in the target's units, to 5 significant digits. */
    static String rmse(double loss, TabularEncoding table) {
        return String.format(Locale.ROOT, "%.5g", Math.sqrt(loss) * table.targetDeviation());
    }
}
