package dev.backprop4j.data;

import dev.backprop4j.core.Excerpt;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A CSV table with a header line, numeric and categorical feature columns and a label column of any values
 * (class names or numbers), read as a seeded train/test split whose {@link TabularEncoding} is fitted on the training
 * rows (or given: a model's, to score new rows as it was trained). Cells are trimmed and may be quoted (without
 * commas inside); empty lines and a UTF-8 byte order mark are skipped. Errors name the file and line.
 */
public final class TabularCsv {
    private TabularCsv() {
    }

    /**
     * Reads {@code file}: the label in {@code labelColumn} (negative counts from the end; with {@code regression} a
     * number to predict, else a class), the columns named in
     * {@code categorical} (0-based indices or header names, comma-separated) categorical, the rows shuffled with
     * {@code seed} and {@code trainFraction} of them for training; encoded with {@code fixed} when it is not null,
     * else with the encoding fitted on the training rows.
     */
    public static Dataset.Split read(Path file, int labelColumn, String categorical, boolean regression,
                                     double trainFraction, long seed, TabularEncoding fixed) throws IOException {
        List<String> header = new ArrayList<>();
        List<String[]> rows = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        readCells(file, header, rows, lines);
        int label = labelColumn < 0 ? header.size() + labelColumn : labelColumn;
        if (label < 0 || label >= header.size()) {
            throw new DataFormatException(file + ": label column " + labelColumn + " is outside its " + header.size()
                    + " columns");
        }
        if (fixed != null && (!fixed.columns().equals(header) || fixed.labelColumn() != label)) {
            throw new DataFormatException(file + ": its columns " + Excerpt.of(header.toString()) + " (label "
                    + (label + 1) + ") are not the " + Excerpt.of(fixed.columns().toString()) + " (label "
                    + (fixed.labelColumn() + 1) + ") the model was trained on");
        }
        if (fixed != null && fixed.isRegression() != regression) {
            throw new DataFormatException(file + ": read as " + (regression ? "a regression" : "a classification")
                    + " table, and the model was trained for " + (fixed.isRegression() ? "regression (--task regress)"
                    : "classification (--task classify)"));
        }
        Set<Integer> cats = categoricalColumns(categorical, header, label, file);
        int[] order = Dataset.shuffled(rows.size(), seed);
        int train = Math.max(1, (int) Math.round(rows.size() * trainFraction));
        if (train >= rows.size()) {
            throw new DataFormatException(file + ": " + rows.size() + " rows are too few to split into train and test");
        }
        List<String[]> trainRows = new ArrayList<>();
        for (int i = 0; i < train; i++) {
            trainRows.add(rows.get(order[i]));
        }
        TabularEncoding enc = fixed != null ? fixed : TabularEncoding.fit(header, trainRows, label, cats, regression);
        return new Dataset.Split(encode(file, rows, lines, order, 0, train, enc),
                encode(file, rows, lines, order, train, rows.size(), enc), enc);
    }

    private static Dataset encode(Path file, List<String[]> rows, List<Integer> lines, int[] order, int from, int to,
                                  TabularEncoding enc) {
        int width = enc.features();
        float[] x = new float[(to - from) * width];
        int[] y = new int[to - from];
        float[] t = new float[to - from];
        for (int i = from; i < to; i++) {
            String where = file + ":" + lines.get(order[i]);
            String[] cells = rows.get(order[i]);
            System.arraycopy(enc.encode(cells, where), 0, x, (i - from) * width, width);
            String label = cells[enc.labelColumn()];
            if (enc.isRegression()) {
                t[i - from] = enc.target(label, where);
            } else {
                y[i - from] = enc.label(label, where);
            }
        }
        return enc.isRegression() ? Dataset.regression(x, t, width) : new Dataset(x, y, width, enc.classes().size());
    }

    /** The header's cells into {@code header}, every data row's into {@code rows} and its line into {@code lines}. */
    private static void readCells(Path file, List<String> header, List<String[]> rows, List<Integer> lines)
            throws IOException {
        int lineNo = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);
                }
                if (line.isBlank()) {
                    continue;
                }
                String[] cells = line.split(",", -1);
                for (int c = 0; c < cells.length; c++) {
                    String cell = cells[c].trim();
                    cells[c] = cell.length() >= 2 && cell.startsWith("\"") && cell.endsWith("\"")
                            ? cell.substring(1, cell.length() - 1).trim() : cell;
                }
                if (header.isEmpty()) {
                    if (cells.length < 2) {
                        throw new DataFormatException(file + ":" + lineNo + ": a table needs a header of at least a "
                                + "feature and a label column");
                    }
                    header.addAll(Arrays.asList(cells));
                    continue;
                }
                if (cells.length != header.size()) {
                    throw new DataFormatException(file + ":" + lineNo + ": " + cells.length + " columns, expected "
                            + header.size() + " as the header has");
                }
                rows.add(cells);
                lines.add(lineNo);
            }
        } catch (CharacterCodingException e) {
            throw new DataFormatException(file + ": not UTF-8 text (save the table as UTF-8)");
        }
        if (rows.isEmpty()) {
            throw new DataFormatException(file + ": no data rows under the header");
        }
    }

    /** The columns {@code spec} names (0-based indices or header names), which must not be the label. */
    private static Set<Integer> categoricalColumns(String spec, List<String> header, int label, Path file) {
        Set<Integer> cats = new LinkedHashSet<>();
        if (spec == null || spec.isBlank()) {
            return cats;
        }
        for (String part : spec.split(",")) {
            String p = part.trim();
            int c = p.matches("[0-9]{1,9}") ? Integer.parseInt(p) : header.indexOf(p);
            if (c < 0 || c >= header.size()) {
                throw new IllegalArgumentException("--categorical: '" + Excerpt.of(p) + "' is neither a column "
                        + "number (0 to " + (header.size() - 1) + ") nor a column of " + file + " "
                        + Excerpt.of(header.toString()));
            }
            if (c == label) {
                throw new IllegalArgumentException("--categorical: column " + c + " (" + Excerpt.of(header.get(c))
                        + ") is the label column");
            }
            cats.add(c);
        }
        return cats;
    }
}
