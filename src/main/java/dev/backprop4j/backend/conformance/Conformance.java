package dev.backprop4j.backend.conformance;

import dev.backprop4j.backend.Backend;

import java.util.List;
import java.util.stream.Stream;

/**
 * Checks every primitive of a backend against the executable specification (the CPU's plain loops,
 * {@code CpuBackend.reference()}): the same inputs (random, made on the CPU and copied over), the same call on both,
 * the outputs compared element by element. Float64 must agree within 1e-9 of the result's scale (transcendental
 * functions differ in the last bits between libraries), float32 within 64 units of float32 roundoff (2^-24) of the
 * element's magnitude plus the result's scale, integer outputs exactly. Sizes are small and odd (1, 7, 1023, 1025),
 * plus one long reduction that a device splits over many blocks.
 *
 * <p>One {@link ParityCheck} per primitive (or case of a fused one) and dtype; {@code java -jar backprop4j.jar
 * doctor} prints their results, and the parity tests run each as a test of its own, for the CUDA backend (on the
 * CUDA emulator in CI) and for the CPU backend's own fast float32 paths.
 */
public final class Conformance {

    private Conformance() {
    }

    /** Every check of {@code device} against the CPU reference, not yet run. */
    public static List<ParityCheck> checks(Backend device) {
        return Stream.concat(new PrimitiveParity(device).all().stream(), new FusedParity(device).all().stream())
                .toList();
    }

    /** Runs every check of {@code device}, in order. */
    public static List<ParityResult> run(Backend device) {
        return checks(device).stream().map(ParityCheck::run).toList();
    }
}
