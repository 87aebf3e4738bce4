package dev.backprop4j.cli;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.io.SafetensorsHeader;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.TrainingCheckpoint;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
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

    Device device(CommandSpec cmd) {
        return DeviceOption.parse(cmd, device);
    }

    /** The run the file describes (its model, split seed, data); reads the header once and checks its tensors. */
    RunSpec spec() throws IOException {
        if (spec == null) {
            header = Safetensors.header(model);
            RunSpec s = RunMetadata.read(header.metadata(), model);
            // before anything is allocated; a --checkpoint file is a model file with the optimizer's state beside it
            Checkpoint.requireFits(model, header, parameters(s),
                    TrainingCheckpoint.isResumable(header.metadata()) ? TrainingCheckpoint.STATE_PREFIX : null);
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
        if (data.given() || trained == null) {
            DataSource given = data.source(cmd);
            if (trained == null || trained.categorical() == null || given.kind() != DataSource.Kind.CSV) {
                return given;
            }
            // a table's model reads a CSV as the table it knows, its label column too unless told otherwise
            return new DataSource(trained.kind(), given.path(), data.labelColumn != null ? data.labelColumn
                    : trained.labelColumn(), trained.categorical());
        }
        if (trained.path() != null && !java.nio.file.Files.exists(Path.of(trained.path()))) {
            throw new ParameterException(cmd.commandLine(), "the model " + model + " was trained on "
                    + trained.describe() + ", which is not there any more; name its data with --data DIR or --csv "
                    + "FILE");
        }
        return trained;
    }

    /**
     * Fails, naming the model file and the data, unless {@code data}'s rows have the model's input width and its
     * labels are among the model's classes.
     */
    void requireFits(Dataset data, DataSource source) throws IOException {
        int[] sizes = spec().sizes();
        if (data.features() != sizes[0]) {
            throw new IllegalArgumentException("the model " + model + " takes " + sizes[0] + " features a row (its "
                    + "first layer), and " + source.describe() + " has " + data.features()
                    + (source.isMnist() ? "" : " (CSV columns other than the label)")
                    + "; score it on the data it was trained on (--data or --csv)");
        }
        int classes = sizes[sizes.length - 1];
        if (data.classes() > classes) {
            throw new IllegalArgumentException("the model " + model + " tells " + classes + " classes apart, and "
                    + source.describe() + " has labels up to " + (data.classes() - 1));
        }
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
            Checkpoint.readParameters(model, net, header); // checked against the file in spec()
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    /** The tensors the model of {@code spec} has, by their names. */
    static Map<String, Checkpoint.Expected> parameters(RunSpec spec) {
        return spec.stateShapes();
    }
}
