package dev.backprop4j.data;

import dev.backprop4j.core.Excerpt;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a comma-separated file of numeric feature columns and one integer class-label column (labels
 * 0..k-1). The first non-blank line is a header when its label cell is not a number ("label"), so a
 * mistyped feature there is still reported, or when its cells are the column numbers 0, 1, 2, ... (or 1, 2, 3, ...),
 * as a table exported with numbered columns has. A cell may be quoted ({@code "2.119"}, as spreadsheets export
 * numbers); a quoted cell cannot hold a comma. Empty lines and a UTF-8 byte order mark are skipped. A cell that is
 * not a number fails with the file, line and column (1-based) and an excerpt of the cell in the message.
 */
public final class Csv {
    /** The largest class label taken: a model gets one output per class, so a label near 2^31 is a data error. */
    public static final int MAX_LABEL = (1 << 20) - 1;

    private Csv() {
    }

    /**
     * @param labelColumn index of the label column, 0-based; negative counts from the end (-1 = last)
     */
    public static Dataset read(Path file, int labelColumn) throws IOException {
        List<float[]> rows = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int columns = -1;
        int label = 0;
        int maxLabel = -1;
        int lineNo = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            boolean first = true;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);   // UTF-8 byte order mark
                }
                if (line.isBlank()) {
                    continue;
                }
                String[] cells = line.split(",", -1);
                for (int c = 0; c < cells.length; c++) {
                    cells[c] = unquote(cells[c].trim());
                }
                if (first) {
                    first = false;
                    int lc = labelColumn < 0 ? cells.length + labelColumn : labelColumn;
                    if (lc >= 0 && lc < cells.length && !isNumber(cells[lc]) || columnNumbers(cells)) {
                        continue;   // a header: its label cell is a name, or the cells number the columns
                    }
                }
                if (columns < 0) {
                    columns = cells.length;
                    if (columns < 2) {
                        throw new DataFormatException(file + ":" + lineNo + ": needs at least one feature and a label column");
                    }
                    label = labelColumn < 0 ? columns + labelColumn : labelColumn;
                    if (label < 0 || label >= columns) {
                        throw new DataFormatException(file + ": label column " + labelColumn + " is outside the "
                                + columns + " columns of line " + lineNo);
                    }
                }
                if (cells.length != columns) {
                    throw new DataFormatException(file + ":" + lineNo + ": " + cells.length + " columns, expected "
                            + columns);
                }
                float[] features = new float[columns - 1];
                for (int c = 0, f = 0; c < columns; c++) {
                    String cell = cells[c];
                    if (c == label) {
                        int y = parseLabel(cell, file, lineNo, c);
                        labels.add(y);
                        maxLabel = Math.max(maxLabel, y);
                    } else {
                        features[f++] = parseNumber(cell, file, lineNo, c);
                    }
                }
                rows.add(features);
            }
        } catch (CharacterCodingException e) {
            throw new DataFormatException(file + ":" + firstNonUtf8Line(file) + ": not UTF-8 text (a CSV file of "
                    + "numbers is expected; save it as UTF-8)");
        }
        if (rows.isEmpty()) {
            throw new DataFormatException(file + ": no data rows");
        }
        int features = columns - 1;
        float[] x = new float[rows.size() * features];
        int[] y = new int[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, x, i * features, features);
            y[i] = labels.get(i);
        }
        return new Dataset(x, y, features, maxLabel + 1);
    }

    /** The 1-based number of the first line that is not valid UTF-8 (the reader fails a buffer, not a line). */
    private static long firstNonUtf8Line(Path file) throws IOException {
        java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
        try (java.io.InputStream in = new java.io.BufferedInputStream(Files.newInputStream(file))) {
            java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
            long number = 1;
            for (int b = in.read(); ; b = in.read()) {
                if (b == '\n' || b < 0) {
                    try {
                        utf8.decode(java.nio.ByteBuffer.wrap(line.toByteArray()));
                    } catch (CharacterCodingException e) {
                        return number;
                    }
                    if (b < 0) {
                        return number;
                    }
                    line.reset();
                    number++;
                } else {
                    line.write(b);
                }
            }
        }
    }

    /** The cell without one pair of surrounding double quotes, as spreadsheets quote numbers. */
    private static String unquote(String cell) {
        return cell.length() >= 2 && cell.startsWith("\"") && cell.endsWith("\"")
                ? cell.substring(1, cell.length() - 1).trim() : cell;
    }

    /** Whether the cells are 0, 1, 2, ... or 1, 2, 3, ...: the header of a table with numbered columns. */
    private static boolean columnNumbers(String[] cells) {
        if (cells.length < 2) {
            return false;
        }
        for (int from : new int[] {0, 1}) {
            boolean all = true;
            for (int c = 0; c < cells.length && all; c++) {
                all = cells[c].equals(Integer.toString(from + c));
            }
            if (all) {
                return true;
            }
        }
        return false;
    }

    private static boolean isNumber(String cell) {
        try {
            return Double.isFinite(Double.parseDouble(cell.trim()));
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static float parseNumber(String cell, Path file, int line, int col) {
        try {
            float v = Float.parseFloat(cell);
            if (!Float.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new DataFormatException(file + ": line " + line + ", column " + (col + 1) + ": '"
                    + Excerpt.of(cell) + "' is not a finite number");
        }
    }

    private static int parseLabel(String cell, Path file, int line, int col) {
        try {
            double v = Double.parseDouble(cell);
            if (v < 0 || v != Math.rint(v) || v > MAX_LABEL) {
                throw new NumberFormatException();
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw new DataFormatException(file + ": line " + line + ", column " + (col + 1) + ": label '"
                    + Excerpt.of(cell) + "' is not a class index (an integer from 0 to " + MAX_LABEL + ")");
        }
    }
}
