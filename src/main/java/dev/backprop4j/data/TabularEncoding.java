package dev.backprop4j.data;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import dev.backprop4j.core.Excerpt;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * How the rows of a table become a model's input, fitted on the training rows only and stored with the model (as
 * JSON in its file), so evaluate and predict encode new rows the same way: numeric columns standardised with the
 * training rows' mean and deviation (an empty cell becomes the mean, 0), categorical columns mapped to their index
 * in the training rows' vocabulary (sorted; 0 is reserved for a value the training rows did not have, or an empty
 * cell), and the label column's values mapped to class indices (sorted: numerically when they are all numbers) or,
 * for regression, standardised as a numeric column is (the model predicts the standardised target; {@link
 * #targetValue} undoes it).
 * An encoded row is the numeric columns in file order, then the categorical codes in file order, as floats.
 */
public final class TabularEncoding implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The columns' names (the header) in file order, the label's included. */
    private final List<String> columns;
    private final int labelColumn;
    /** Per column: its vocabulary if categorical (sorted, without the reserved 0), else null. */
    private final List<List<String>> vocabularies;
    private final double[] mean;
    private final double[] deviation;
    /** The class names by index; empty for regression. */
    private final List<String> classes;

    private TabularEncoding(List<String> columns, int labelColumn, List<List<String>> vocabularies, double[] mean,
                            double[] deviation, List<String> classes) {
        this.columns = List.copyOf(columns);
        this.labelColumn = labelColumn;
        this.vocabularies = vocabularies;
        this.mean = mean;
        this.deviation = deviation;
        this.classes = List.copyOf(classes);
    }

    /**
     * Fits the encoding of {@code rows} (the training rows' cells, each as many as the header), with the label in
     * {@code labelColumn} (a number to predict, with {@code regression}) and the columns of {@code categorical}
     * (indices into the header) categorical.
     */
    static TabularEncoding fit(List<String> header, List<String[]> rows, int labelColumn, Set<Integer> categorical,
                               boolean regression) {
        int n = header.size();
        List<List<String>> vocab = new ArrayList<>();
        double[] mean = new double[n];
        double[] dev = new double[n];
        for (int c = 0; c < n; c++) {
            if (c == labelColumn || !categorical.contains(c)) {
                vocab.add(null);
                if (c != labelColumn || regression) {
                    moments(rows, c, mean, dev);
                }
            } else {
                TreeSet<String> values = new TreeSet<>();
                for (String[] r : rows) {
                    if (!r[c].isEmpty()) {
                        values.add(r[c]);
                    }
                }
                vocab.add(List.copyOf(values));
            }
        }
        if (regression) {
            return new TabularEncoding(header, labelColumn, vocab, mean, dev, List.of());
        }
        List<String> labels = new ArrayList<>(distinct(rows, labelColumn));
        boolean numeric = labels.stream().allMatch(TabularEncoding::isNumber);
        labels.sort(numeric ? (a, b) -> Double.compare(Double.parseDouble(a), Double.parseDouble(b)) : null);
        return new TabularEncoding(header, labelColumn, vocab, mean, dev, labels);
    }

    private static void moments(List<String[]> rows, int c, double[] mean, double[] dev) {
        double sum = 0;
        int count = 0;
        for (String[] r : rows) {
            if (!r[c].isEmpty() && isNumber(r[c])) {
                sum += Double.parseDouble(r[c]);
                count++;
            }
        }
        mean[c] = count == 0 ? 0 : sum / count;
        double squares = 0;
        for (String[] r : rows) {
            if (!r[c].isEmpty() && isNumber(r[c])) {
                double d = Double.parseDouble(r[c]) - mean[c];
                squares += d * d;
            }
        }
        double sd = count < 2 ? 0 : Math.sqrt(squares / (count - 1));
        dev[c] = sd > 0 ? sd : 1;
    }

    private static Set<String> distinct(List<String[]> rows, int c) {
        Set<String> s = new java.util.LinkedHashSet<>();
        rows.forEach(r -> s.add(r[c]));
        return s;
    }

    static boolean isNumber(String cell) {
        try {
            return Double.isFinite(Double.parseDouble(cell));
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The numeric feature columns. */
    public int numericCount() {
        int k = 0;
        for (int c = 0; c < columns.size(); c++) {
            k += c != labelColumn && vocabularies.get(c) == null ? 1 : 0;
        }
        return k;
    }

    /** Per categorical column, in file order, the codes it takes: its vocabulary plus the reserved 0. */
    public int[] cardinalities() {
        List<Integer> k = new ArrayList<>();
        for (List<String> v : vocabularies) {
            if (v != null) {
                k.add(v.size() + 1);
            }
        }
        return k.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The width of an encoded row: numeric columns plus one code per categorical column. */
    public int features() {
        return numericCount() + cardinalities().length;
    }

    /** The label values, by class index (none for regression). */
    public List<String> classes() {
        return classes;
    }

    /** Whether the label column is a number to predict (regression) rather than a class. */
    public boolean isRegression() {
        return classes.isEmpty();
    }

    /** A prediction of the standardised target in the target's own units. */
    public double targetValue(double standardised) {
        return standardised * deviation[labelColumn] + mean[labelColumn];
    }

    /** The target's deviation in the training rows: the standardised target's unit, in the target's units. */
    public double targetDeviation() {
        return deviation[labelColumn];
    }

    /** The header's names, in file order. */
    public List<String> columns() {
        return columns;
    }

    int labelColumn() {
        return labelColumn;
    }

    /**
     * The encoded features of one row of cells ({@code where} names the file and line in errors).
     *
     * @throws DataFormatException for a numeric cell that is not a finite number
     */
    float[] encode(String[] cells, String where) {
        float[] out = new float[features()];
        int numeric = 0;
        int code = numericCount();
        for (int c = 0; c < cells.length; c++) {
            if (c == labelColumn) {
                continue;
            }
            List<String> vocab = vocabularies.get(c);
            String cell = cells[c];
            if (vocab == null) {
                if (!cell.isEmpty() && !isNumber(cell)) {
                    throw new DataFormatException(where + ", column " + (c + 1) + " (" + Excerpt.of(columns.get(c))
                            + "): '" + Excerpt.of(cell) + "' is not a finite number (a categorical column is named "
                            + "with --categorical)");
                }
                out[numeric++] = cell.isEmpty() ? 0f : (float) ((Double.parseDouble(cell) - mean[c]) / deviation[c]);
            } else {
                int at = java.util.Collections.binarySearch(vocab, cell);
                out[code++] = at < 0 || cell.isEmpty() ? 0 : at + 1;
            }
        }
        return out;
    }

    /**
     * An encoded row as its columns' values, "name=value, ...", in the order {@link #encode} writes them (numbers
     * un-standardised to 6 significant digits, codes as their category; an unknown value as "?").
     */
    public String describe(float[] encoded) {
        StringBuilder s = new StringBuilder();
        int numeric = 0;
        int code = numericCount();
        for (int c = 0; c < columns.size(); c++) {
            if (c == labelColumn) {
                continue;
            }
            List<String> vocab = vocabularies.get(c);
            String value;
            if (vocab == null) {
                value = number(encoded[numeric++] * deviation[c] + mean[c]);
            } else {
                int k = Math.round(encoded[code++]);
                value = k >= 1 && k <= vocab.size() ? vocab.get(k - 1) : "?";
            }
            s.append(s.length() == 0 ? "" : ", ").append(columns.get(c)).append('=').append(value);
        }
        return s.toString();
    }

    /** The standardised target of a regression row's label cell, or an error naming it when it is not a number. */
    float target(String cell, String where) {
        if (!isNumber(cell)) {
            throw new DataFormatException(where + ": the target '" + Excerpt.of(cell) + "' (column " + (labelColumn + 1)
                    + ", " + Excerpt.of(columns.get(labelColumn)) + ") is not a finite number");
        }
        return (float) ((Double.parseDouble(cell) - mean[labelColumn]) / deviation[labelColumn]);
    }

    /** {@code v} to 6 significant digits, without trailing zeros: "151.8", "4", "1.5e+07". */
    public static String number(double v) {
        String s = String.format(java.util.Locale.ROOT, "%.6g", v);
        int e = s.indexOf('e');
        String mantissa = e < 0 ? s : s.substring(0, e);
        if (mantissa.contains(".")) {
            mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return e < 0 ? mantissa : mantissa + s.substring(e);
    }

    /** The class index of a label cell, or an error naming it when the training rows never had it. */
    int label(String cell, String where) {
        int i = classes.indexOf(cell);
        if (i < 0 && isNumber(cell)) { // "1.0" for the class "1"
            for (int k = 0; k < classes.size() && i < 0; k++) {
                i = isNumber(classes.get(k)) && Double.parseDouble(classes.get(k)) == Double.parseDouble(cell) ? k : -1;
            }
        }
        if (i < 0) {
            throw new DataFormatException(where + ": label '" + Excerpt.of(cell) + "' is not one of the "
                    + classes.size() + " classes the model was trained on");
        }
        return i;
    }

    /** This encoding as JSON (what model files keep). */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("columns", columns);
        m.put("label", labelColumn);
        m.put("vocabularies", vocabularies);
        m.put("mean", mean);
        m.put("deviation", deviation);
        m.put("classes", classes);
        return new Gson().toJson(m);
    }

    /**
     * The encoding {@link #toJson} wrote.
     *
     * @throws IllegalArgumentException naming {@code file} when the JSON does not describe an encoding
     */
    public static TabularEncoding fromJson(String json, Path file) {
        try {
            Stored s = new Gson().fromJson(json, Stored.class);
            int n = s.columns.size();
            if (s.label < 0 || s.label >= n || s.vocabularies.size() != n || s.mean.length != n
                    || s.deviation.length != n || s.classes == null || s.classes.isEmpty() && !(s.deviation[s.label] > 0)) {
                throw new JsonParseException("inconsistent sizes");
            }
            return new TabularEncoding(s.columns, s.label, s.vocabularies, s.mean, s.deviation, s.classes);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": its tabular encoding is malformed (" + Excerpt.of(
                    String.valueOf(e.getMessage())) + ")");
        }
    }

    /** The JSON's shape. */
    private static final class Stored {
        List<String> columns;
        int label;
        List<List<String>> vocabularies;
        double[] mean;
        double[] deviation;
        List<String> classes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TabularEncoding t && toJson().equals(t.toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "TabularEncoding" + Arrays.toString(cardinalities()) + " of " + columns;
    }
}
