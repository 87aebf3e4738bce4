package dev.backprop4j.cli;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.io.SafetensorsHeader;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.Backends;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model written by {@code train --save} (or --checkpoint, or by another program with the model keys of
 * {@link RunMetadata}), and the device to run it on: for evaluate and predict.
 */
final class SavedModelOptions {
    @Option(names = "--model", required = true, paramLabel = "FILE.safetensors",
            description = "Model written by train --save or --checkpoint.")
    Path model;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    private SafetensorsHeader header;
    private RunSpec spec;

    Device device() {
        return Backends.device(device);
    }

    /** The run the file describes (its model, split seed, data); reads the header once and checks its tensors. */
    RunSpec spec() throws IOException {
        if (spec == null) {
            header = Safetensors.header(model);
            RunSpec s = RunMetadata.read(header.metadata(), model);
            Checkpoint.requireFits(model, header, parameters(s.sizes())); // before anything is allocated
            spec = s;
        }
        return spec;
    }

    /**
     * The data to score the model on: what {@code data} names, or, when it names nothing, the data the model was
     * trained on (if its file says).
     */
    DataSource data(DataOptions data, CommandSpec cmd) throws IOException {
        DataSource trained = spec().data();
        return data.given() || trained == null ? data.source(cmd) : trained;
    }

    /**
     * Rebuilds the MLP the file describes on the device and loads its parameters: the file's tensors are checked
     * against the architecture, and its size against the device's free memory, before the model is allocated.
     */
    Sequential load(Device dev, int rows) throws IOException {
        RunSpec s = spec();
        MemoryBudget.require("the model " + s.layersText() + " of " + model, MemoryBudget.bytesNeeded(s, false, rows),
                dev);
        Sequential net = s.newModel(dev);
        try {
            Checkpoint.load(net, model, header);
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    /** The parameters an MLP of these sizes has, by their names (Linear layer i at index 2i), as float32. */
    static Map<String, Checkpoint.Expected> parameters(int[] sizes) {
        Map<String, Checkpoint.Expected> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < sizes.length; i++) {
            m.put(2 * i + ".weight", new Checkpoint.Expected(Shape.of(sizes[i + 1], sizes[i]), DType.FLOAT32));
            m.put(2 * i + ".bias", new Checkpoint.Expected(Shape.of(sizes[i + 1]), DType.FLOAT32));
        }
        return m;
    }
}
