package dev.backprop4j.cli;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The architecture of an MLP (all layer sizes, activation), and the seed of the train/test split of its data, stored
 * in a checkpoint's metadata so that evaluate and predict rebuild the model and score it on the same test rows.
 */
record ModelSpec(int[] sizes, Activation activation, long splitSeed) {
    static final String LAYERS = "backprop4j.layers";
    static final String ACTIVATION = "backprop4j.activation";
    static final String SPLIT_SEED = "backprop4j.split_seed";
    /** The split seed of checkpoints written before it was stored: the default --seed then. */
    static final long DEFAULT_SPLIT_SEED = 42;

    Sequential build(long seed, Device device) {
        return Mlp.of(sizes).activation(activation).seed(seed).device(device).build();
    }

    Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put(LAYERS, Arrays.stream(sizes).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        m.put(ACTIVATION, activation.label());
        m.put(SPLIT_SEED, Long.toString(splitSeed));
        return m;
    }

    static ModelSpec fromMetadata(Map<String, String> meta, Path file) {
        String layers = meta.get(LAYERS);
        String act = meta.get(ACTIVATION);
        if (layers == null || act == null) {
            throw new CheckpointException(file + ": no model description in its metadata (" + LAYERS + ", "
                    + ACTIVATION + "); was it written by 'backprop4j train --save'?");
        }
        long split = DEFAULT_SPLIT_SEED;
        try {
            split = meta.containsKey(SPLIT_SEED) ? Long.parseLong(meta.get(SPLIT_SEED)) : DEFAULT_SPLIT_SEED;
        } catch (NumberFormatException e) {
            throw new CheckpointException(file + ": metadata " + SPLIT_SEED + " = '" + meta.get(SPLIT_SEED)
                    + "' is not a number");
        }
        try {
            return new ModelSpec(parseSizes(layers, LAYERS), Activation.parse(act), split);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": metadata " + e.getMessage());
        }
    }

    /** The parameters the model has, by their names (Linear layer i at index 2i), as float32. */
    Map<String, Checkpoint.Expected> parameters() {
        Map<String, Checkpoint.Expected> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < sizes.length; i++) {
            m.put(2 * i + ".weight", new Checkpoint.Expected(Shape.of(sizes[i + 1], sizes[i]), DType.FLOAT32));
            m.put(2 * i + ".bias", new Checkpoint.Expected(Shape.of(sizes[i + 1]), DType.FLOAT32));
        }
        return m;
    }

    long parameterCount() {
        long n = 0;
        for (int i = 0; i + 1 < sizes.length; i++) {
            n = Math.addExact(n, Math.addExact(Math.multiplyExact((long) sizes[i], sizes[i + 1]), sizes[i + 1]));
        }
        return n;
    }

    /**
     * About the bytes a run needs: float32 parameters, and for training their gradients and {@code stateCopies}
     * optimizer tensors of the same size (Adam 2, SGD with momentum 1), plus the activations of a batch of
     * {@code rows} kept for the backward (about four tensors of each layer's width).
     */
    long bytesNeeded(boolean training, int stateCopies, int rows) {
        long params = parameterCount();
        long copies = training ? 2 + stateCopies : 1;
        long widths = Arrays.stream(sizes).asLongStream().sum();
        return 4 * (params * copies + 4L * rows * widths);
    }

    /** "784-256-128-10". */
    String layersText() {
        return Arrays.stream(sizes).mapToObj(Integer::toString).collect(Collectors.joining("-"));
    }

    /** Positive sizes separated by commas: "256,128"; nothing else (no empty entries, signs or spaces inside). */
    static int[] parseSizes(String text, String what) {
        String[] parts = text.split(",", -1);
        int[] s = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].trim();
            try {
                s[i] = p.matches("[0-9]+") ? Integer.parseInt(p) : -1;
            } catch (NumberFormatException e) {
                s[i] = -1;
            }
            if (s[i] <= 0) {
                throw new IllegalArgumentException(what + ": '" + text + "' is not a list of positive sizes like "
                        + "256,128");
            }
        }
        return s;
    }
}
