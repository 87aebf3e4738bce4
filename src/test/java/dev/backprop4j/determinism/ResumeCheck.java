package dev.backprop4j.determinism;

import dev.backprop4j.cli.Main;
import dev.backprop4j.nn.Activation;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * For every activation, a {@code train} run stopped after one epoch and resumed ends in the same model file, byte for
 * byte, as a run of two epochs never stopped; run as a program (in a JVM of given flags), it prints one line per
 * activation, "same" or "DIFFERENT", then "done".
 */
public final class ResumeCheck {
    private ResumeCheck() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("resume-check");
        for (Activation a : Activation.values()) {
            if (a == Activation.IDENTITY) {
                continue;
            }
            System.out.println(a.label() + " " + (resumesExactly(a, dir) ? "same" : "DIFFERENT"));
        }
        System.out.println("done");
    }

    /** Whether a run of {@code a} stopped after its first epoch and resumed saves what an unstopped one saves. */
    public static boolean resumesExactly(Activation a, Path dir) throws Exception {
        Path whole = dir.resolve(a.label() + "-whole.safetensors");
        Path part = dir.resolve(a.label() + "-part.safetensors");
        Path resumed = dir.resolve(a.label() + "-resumed.safetensors");
        train(a, "--epochs", "2", "--save", whole.toString());
        train(a, "--epochs", "1", "--checkpoint", part.toString());
        train(a, "--epochs", "2", "--resume", part.toString(), "--save", resumed.toString());
        return Arrays.equals(Files.readAllBytes(whole), Files.readAllBytes(resumed));
    }

    private static void train(Activation a, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--device", "cpu", "--limit", "600", "--batch", "32",
                "--layers", "40,24", "--activation", a.label(), "--schedule", "constant", "--lr", "0.01"));
        args.addAll(List.of(more));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args.toArray(new String[0]), new PrintWriter(out), new PrintWriter(err));
        if (code != 0) {
            throw new IllegalStateException(String.join(" ", args) + " failed (" + code + "): " + err);
        }
    }
}
