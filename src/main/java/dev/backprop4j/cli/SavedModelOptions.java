package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.Backends;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** A model written by {@code train --save}, and the device to run it on (evaluate, predict). */
final class SavedModelOptions {
    @Option(names = "--model", required = true, paramLabel = "FILE.safetensors", description = "Model written by train --save.")
    Path model;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}).")
    String device;

    private Safetensors.Header header;
    private ModelSpec spec;

    Device device() {
        return Backends.device(device);
    }

    /** The architecture and split seed from the file's metadata; reads the header once and checks its tensors. */
    ModelSpec spec() throws IOException {
        if (spec == null) {
            header = Safetensors.header(model);
            ModelSpec s = ModelSpec.fromMetadata(header.metadata(), model);
            Checkpoint.requireFits(model, header, s.parameters()); // before anything is allocated
            spec = s;
        }
        return spec;
    }

    /**
     * Rebuilds the MLP the file describes on the device and loads its parameters: the file's tensors are checked
     * against the architecture, and its size against the device's free memory, before the model is allocated.
     */
    Sequential load(Device dev, int rows) throws IOException {
        ModelSpec s = spec();
        MemoryBudget.require("the model " + s.layersText() + " of " + model, s.bytesNeeded(false, 0, rows), dev);
        Sequential net = s.build(0, dev);
        try {
            Checkpoint.load(net, model, header);
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }
}
