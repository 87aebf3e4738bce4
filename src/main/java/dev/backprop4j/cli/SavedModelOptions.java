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

    Device device() {
        return Backends.device(device);
    }

    /** Rebuilds the MLP described in the file's metadata on the device and loads its parameters. */
    Sequential load(Device dev) throws IOException {
        Sequential net = ModelSpec.fromMetadata(Safetensors.readMetadata(model), model).build(0, dev);
        Checkpoint.load(net, model);
        return net;
    }
}
