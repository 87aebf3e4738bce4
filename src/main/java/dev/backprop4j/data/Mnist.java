package dev.backprop4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * MNIST in its standard IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte, each optionally .gz): a folder of them (the full 60,000-image set works
 * unchanged), or the 10,000-digit subset embedded in the jar (8,000 train / 2,000 test, from the MNIST
 * database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0; see
 * resources/dev/backprop4j/data/mnist-10k/README.md). Pixels p in 0..255 become (p/255 - MEAN) / STD with
 * the usual MNIST statistics, as in PyTorch's MNIST examples.
 */
public final class Mnist {
    public static final int CLASSES = 10;
    /** Mean and standard deviation of MNIST training pixels scaled to [0, 1]. */
    public static final float MEAN = 0.1307f;
    public static final float STD = 0.3081f;
    private static final String RESOURCE = "/dev/backprop4j/data/mnist-10k/";
    private static final String[] FILES = {
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

    private Mnist() {
    }

    /** The embedded 10,000-digit subset. */
    public static Dataset.Split embedded() {
        try {
            Dataset[] sets = new Dataset[2];
            for (int s = 0; s < 2; s++) {
                try (InputStream img = resource(FILES[2 * s] + ".gz"); InputStream lab = resource(FILES[2 * s + 1] + ".gz")) {
                    sets[s] = dataset(Idx.read(img, "embedded " + FILES[2 * s] + ".gz", Idx.IMAGES_MAGIC),
                            Idx.read(lab, "embedded " + FILES[2 * s + 1] + ".gz", Idx.LABELS_MAGIC),
                            "embedded " + FILES[2 * s + 1]);
                }
            }
            return new Dataset.Split(sets[0], sets[1]);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the embedded MNIST subset: " + e.getMessage(), e);
        }
    }

    private static InputStream resource(String name) {
        InputStream in = Mnist.class.getResourceAsStream(RESOURCE + name);
        if (in == null) {
            throw new IllegalStateException("the embedded MNIST file " + name + " is missing from the jar");
        }
        return in;
    }

    /** Reads the four standard files (plain or .gz) from {@code dir}. */
    public static Dataset.Split load(Path dir) throws IOException {
        Path[] paths = files(dir);
        return new Dataset.Split(read(paths[0], paths[1]), read(paths[2], paths[3]));
    }

    /**
     * The four standard files in {@code dir}, each plain or .gz (training images and labels, test images and
     * labels), without reading them.
     *
     * @throws NoSuchFileException naming the folder or the first file missing
     */
    public static Path[] files(Path dir) throws NoSuchFileException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir + " (not a folder with the MNIST files)");
        }
        Path[] paths = new Path[4];
        for (int i = 0; i < 4; i++) {
            Path plain = dir.resolve(FILES[i]);
            Path gz = dir.resolve(FILES[i] + ".gz");
            paths[i] = Files.exists(plain) ? plain : gz;
            if (!Files.exists(paths[i])) {
                throw new NoSuchFileException(gz + " (nor " + plain.getFileName() + ")");
            }
        }
        return paths;
    }

    private static Dataset read(Path images, Path labels) throws IOException {
        try (InputStream img = Files.newInputStream(images); InputStream lab = Files.newInputStream(labels)) {
            return dataset(Idx.read(img, images.toString(), Idx.IMAGES_MAGIC),
                    Idx.read(lab, labels.toString(), Idx.LABELS_MAGIC), labels.toString());
        }
    }

    private static Dataset dataset(Idx.Data images, Idx.Data labels, String labelSource) {
        if (images.count() != labels.count()) {
            throw new DataFormatException(labelSource + ": " + labels.count() + " labels for " + images.count() + " images");
        }
        byte[] px = images.values();
        float[] x = new float[px.length];
        for (int i = 0; i < px.length; i++) {
            x[i] = ((px[i] & 0xff) / 255f - MEAN) / STD;
        }
        byte[] lb = labels.values();
        int[] y = new int[lb.length];
        for (int i = 0; i < lb.length; i++) {
            y[i] = lb[i] & 0xff;
            if (y[i] >= CLASSES) {
                throw new DataFormatException(labelSource + ": label " + y[i] + " of item " + i
                        + " is outside [0, " + CLASSES + ")");
            }
        }
        return new Dataset(x, y, images.itemSize(), CLASSES);
    }
}
