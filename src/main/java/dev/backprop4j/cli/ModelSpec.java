package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/** The architecture of an MLP (all layer sizes, activation), stored in a checkpoint's metadata to rebuild it. */
record ModelSpec(int[] sizes, Activation activation) {
    static final String LAYERS = "backprop4j.layers";
    static final String ACTIVATION = "backprop4j.activation";

    Sequential build(long seed, Device device) {
        return Mlp.of(sizes).activation(activation).seed(seed).device(device).build();
    }

    Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put(LAYERS, Arrays.stream(sizes).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        m.put(ACTIVATION, activation.label());
        return m;
    }

    static ModelSpec fromMetadata(Map<String, String> meta, Path file) {
        String layers = meta.get(LAYERS);
        String act = meta.get(ACTIVATION);
        if (layers == null || act == null) {
            throw new CheckpointException(file + ": no model description in its metadata (" + LAYERS + ", "
                    + ACTIVATION + "); was it written by 'backprop4j train --save'?");
        }
        return new ModelSpec(parseSizes(layers, file.toString()), Activation.parse(act));
    }

    static int[] parseSizes(String text, String what) {
        try {
            int[] s = Arrays.stream(text.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
            for (int v : s) {
                if (v <= 0) {
                    throw new NumberFormatException();
                }
            }
            return s;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + ": '" + text + "' is not a list of positive sizes like 256,128");
        }
    }
}
