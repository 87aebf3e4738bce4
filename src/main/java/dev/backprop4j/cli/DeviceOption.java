package dev.backprop4j.cli;

import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Backends;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** The commands' {@code --device}: cpu, cuda, cuda:N or auto; anything else is a usage error naming the option. */
final class DeviceOption {
    private DeviceOption() {
    }

    /** The device {@code text} names, "auto" resolved ({@link Backends#device}). */
    static Device parse(CommandSpec cmd, String text) {
        try {
            return Backends.device(text);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(cmd.commandLine(), "--device: " + e.getMessage().replace(
                    "expected cpu, cuda or cuda:N", "expected cpu, cuda, cuda:N or auto"));
        }
    }
}
