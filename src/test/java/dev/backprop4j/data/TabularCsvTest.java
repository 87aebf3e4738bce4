package dev.backprop4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tables: the encoding fitted on the training rows only, applied to both sets and to new files, and its errors. */
class TabularCsvTest {
    @TempDir
    Path dir;

    private Path table(String name, String text) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    @Test
    void categoriesNumbersAndLabelsAreEncodedFromTheTrainingRows() throws Exception {
        StringBuilder csv = new StringBuilder("colour,size,\"city\",answer\n");
        String[] colours = {"red", "green", "blue"};
        for (int i = 0; i < 40; i++) {
            csv.append(colours[i % 3]).append(',').append(i).append(',').append(i % 2 == 0 ? "Oslo" : "")
                    .append(',').append(i % 4 == 0 ? "yes" : "no").append('\n');
        }
        Path f = table("t.csv", csv.toString());
        Dataset.Split s = TabularCsv.read(f, -1, "colour,2", false, 0.75, 3, null);
        TabularEncoding enc = s.encoding();
        assertEquals(List.of("no", "yes"), enc.classes());
        assertEquals(1, enc.numericCount());
        assertArrayEquals(new int[] {4, 2}, enc.cardinalities(), "blue, green, red and the reserved 0; Oslo and 0");
        assertEquals(3, s.train().features());
        assertEquals(30, s.train().size());
        assertEquals(10, s.test().size());
        double mean = 0;
        for (int i = 0; i < 30; i++) {
            mean += s.train().sample(i)[0] / 30;
            float code = s.train().sample(i)[1];
            assertTrue(code >= 1 && code <= 3, "a known colour: " + code);
            float city = s.train().sample(i)[2];
            assertTrue(city == 0 || city == 1, "Oslo, or empty: " + city);
        }
        assertEquals(0, mean, 1e-6, "standardised with the training rows' mean");
        TabularEncoding back = TabularEncoding.fromJson(enc.toJson(), f);
        assertEquals(enc, back);

        Path other = table("new.csv", "colour,size,city,answer\npurple,5,Oslo,yes\nred,,Bergen,no\n");
        Dataset.Split scored = TabularCsv.read(other, -1, "colour,2", false, 0.5, 1, back);
        float[][] rows = {scored.train().sample(0), scored.test().sample(0)};
        for (float[] r : rows) {
            boolean purple = r[1] == 0;
            assertTrue(purple ? r[2] == 1 : r[0] == 0 && r[2] == 0, java.util.Arrays.toString(r)
                    + ": an unseen colour or city is 0, an empty number the mean");
        }
    }

    @Test
    void mistakesNameTheFileLineAndColumn() throws Exception {
        Path f = table("bad.csv", "a,b,label\n1,x,0\n2,3,1\n4,5,0\n6,7,1\n");
        DataFormatException notNumber = assertThrows(DataFormatException.class,
                () -> TabularCsv.read(f, -1, "", false, 0.5, 1, null));
        assertTrue(notNumber.getMessage().contains("bad.csv:2, column 2 (b): 'x' is not a finite number"),
                notNumber.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> TabularCsv.read(f, -1, "c", false, 0.5, 1, null));
        assertTrue(unknown.getMessage().contains("--categorical: 'c' is neither"), unknown.getMessage());
        IllegalArgumentException label = assertThrows(IllegalArgumentException.class,
                () -> TabularCsv.read(f, -1, "label", false, 0.5, 1, null));
        assertTrue(label.getMessage().contains("is the label column"), label.getMessage());
        Path good = table("good.csv", "a,b,label\n1,2,0\n2,3,1\n4,5,0\n6,7,1\n");
        TabularEncoding enc = TabularCsv.read(good, -1, "", false, 0.5, 1, null).encoding();
        Path renamed = table("renamed.csv", "a,c,label\n1,2,0\n2,3,1\n");
        DataFormatException columns = assertThrows(DataFormatException.class,
                () -> TabularCsv.read(renamed, -1, "", false, 0.5, 1, enc));
        assertTrue(columns.getMessage().contains("the model was trained on"), columns.getMessage());
        Path newClass = table("class.csv", "a,b,label\n1,2,0\n2,3,7\n");
        DataFormatException cls = assertThrows(DataFormatException.class,
                () -> TabularCsv.read(newClass, -1, "", false, 0.5, 1, enc));
        assertTrue(cls.getMessage().contains("label '7' is not one of the 2 classes"), cls.getMessage());
    }
    /** A regression table: the target standardised with the training rows' mean and deviation, undone for output. */
    @Test
    void aRegressionTargetIsStandardisedFromTheTrainingRows() throws Exception {
        Path f = table("prices.csv", "area,city,price\n10,Oslo,100\n20,Bergen,200\n30,Oslo,300\n40,Bergen,400\n");
        Dataset.Split s = TabularCsv.read(f, -1, "city", true, 0.5, 7, null);
        TabularEncoding enc = s.encoding();
        assertTrue(enc.isRegression() && enc.classes().isEmpty() && s.train().isRegression());
        float[] train = {s.train().target(0), s.train().target(1)};
        assertEquals(0, train[0] + train[1], 1e-6, "standardised: mean 0 over the training rows");
        assertEquals(Math.sqrt(2), Math.abs(train[0] - train[1]), 1e-6, "deviation 1 (n - 1) over two rows");
        for (Dataset d : new Dataset[] {s.train(), s.test()}) {
            for (int i = 0; i < d.size(); i++) {
                double price = enc.targetValue(d.target(i));
                assertEquals(10 * Double.parseDouble(enc.describe(d.sample(i)).replaceAll("area=([0-9.]+),.*", "$1")),
                        price, 1e-3, "each row's target in its own units");
            }
        }
        TabularEncoding back = TabularEncoding.fromJson(enc.toJson(), f);
        assertEquals(enc, back);
        assertTrue(back.isRegression());
        assertEquals("1.5e+07", TabularEncoding.number(1.5e7));
        assertEquals("151.8", TabularEncoding.number(151.8));
        Path bad = table("bad.csv", "area,city,price\n10,Oslo,100\n20,Bergen,cheap\n30,Oslo,300\n40,Bergen,400\n");
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> TabularCsv.read(bad, -1, "city", true, 0.5, 7, null));
        assertTrue(e.getMessage().contains("bad.csv:3: the target 'cheap' (column 3, price) is not a finite number"),
                e.getMessage());
        DataFormatException task = assertThrows(DataFormatException.class,
                () -> TabularCsv.read(f, -1, "city", false, 0.5, 7, enc));
        assertTrue(task.getMessage().contains("read as a classification table, and the model was trained for "
                + "regression (--task regress)"), task.getMessage());
    }
}
