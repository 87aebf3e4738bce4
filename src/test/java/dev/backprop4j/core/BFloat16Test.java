package dev.backprop4j.core;

import dev.backprop4j.io.Safetensors;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bfloat16 as storage: rounding to nearest even (PyTorch's bits, printed by torch 2.13 for the same floats), casts
 * both ways, views and moves, files, and the ops that refuse it by name.
 */
class BFloat16Test {
    @TempDir
    Path dir;

    /**
     * torch.tensor([1.0, 1.00390625, 1.01171875, 1.0078125, -2.5, 3.4e38, 1e-40, 65504.0, 0.1],
     * dtype=torch.float32).to(torch.bfloat16).view(torch.int16): ties to even (1 + 2^-8 down to 1, 1 + 3 2^-8 up),
     * overflow to infinity, subnormals kept.
     */
    @Test
    void roundsToNearestEvenAsPyTorchDoes() {
        float[] in = {1.0f, 1.00390625f, 1.01171875f, 1.0078125f, -2.5f, 3.4e38f, 1e-40f, 65504.0f, 0.1f};
        short[] torch = {16256, 16256, 16258, 16257, -16352, 32640, 1, 18304, 15821};
        for (int i = 0; i < in.length; i++) {
            assertEquals(torch[i], BFloat16.fromFloat(in[i]), "bits of " + in[i]);
        }
        assertEquals(Float.POSITIVE_INFINITY, BFloat16.round(Float.POSITIVE_INFINITY));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(BFloat16.round(-0.0f)));
        assertTrue(Float.isNaN(BFloat16.round(Float.NaN)));
        assertTrue(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(Float.intBitsToFloat(0x7f800001)))),
                "a signalling NaN whose payload is all in the low half stays a NaN");
        for (int bits = 0; bits < 0x10000; bits++) { // every bfloat16 back to float and again is itself
            float f = BFloat16.toFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertEquals((short) bits, BFloat16.fromFloat(f));
            }
        }
    }

    @Test
    void tensorsOfItCastMoveViewSaveAndLoad() throws Exception {
        Tensor x = Tensor.of(new float[] {1.00390625f, -2.5f, 0.1f, 7f, 1e-40f, 65504f}, 2, 3);
        Tensor h = x.to(DType.BFLOAT16);
        assertEquals(DType.BFLOAT16, h.dtype());
        assertArrayEquals(new float[] {1f, -2.5f, 0.10009765625f, 7f, BFloat16.round(1e-40f), 65536f},
                h.toFloatArray());
        assertArrayEquals(h.toFloatArray(), h.to(DType.FLOAT64).to(DType.FLOAT32).toFloatArray(), "exact back");
        assertArrayEquals(new float[] {1f, 7f}, h.narrow(1, 0, 1).reshape(2).toFloatArray(),
                "a column of the rows, kept in bfloat16");
        assertTrue(h.toString().contains("bfloat16"), h.toString());
        Path f = dir.resolve("h.safetensors");
        Safetensors.write(f, Map.of("h", h), Map.of());
        Tensor back = Safetensors.read(f).tensors().get("h");
        assertEquals(DType.BFLOAT16, back.dtype());
        assertArrayEquals(h.toBf16Bits(), back.toBf16Bits());
        byte[] file = java.nio.file.Files.readAllBytes(f);
        long header = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(2 * 6, file.length - 8 - header, "two bytes an element");
        assertTrue(new String(file, 8, (int) header, java.nio.charset.StandardCharsets.UTF_8).contains("\"BF16\""));
        Safetensors.requireFinite(f, Safetensors.header(f), "h"); // two bytes an element, read as such
        Path inf = dir.resolve("inf.safetensors");
        Safetensors.write(inf, Map.of("h", Tensor.of(new float[] {1, Float.POSITIVE_INFINITY}, 2)
                .to(DType.BFLOAT16)), Map.of());
        Exception e = assertThrows(Exception.class, () -> Safetensors.requireFinite(inf, Safetensors.header(inf), "h"));
        assertTrue(e.getMessage().contains("Infinity"), e.getMessage());
    }

    @Test
    void opsRefuseItByName() {
        Tensor h = Tensor.of(new float[] {1, 2}, 2).to(DType.BFLOAT16);
        IllegalArgumentException add = assertThrows(IllegalArgumentException.class, () -> h.add(h));
        assertTrue(add.getMessage().startsWith("add: ") && add.getMessage().contains("is bfloat16, which is storage "
                + "only here: cast it with .to(DType.FLOAT32) first"), add.getMessage());
        IllegalArgumentException relu = assertThrows(IllegalArgumentException.class, h::relu);
        assertTrue(relu.getMessage().contains("bfloat16"), relu.getMessage());
        IllegalArgumentException random = assertThrows(IllegalArgumentException.class,
                () -> Tensor.randn(new Generator(1), Shape.of(2), DType.BFLOAT16, Device.CPU));
        assertTrue(random.getMessage().startsWith("random: bfloat16 is storage only"), random.getMessage());
        assertEquals(DType.BFLOAT16, DType.parse("bfloat16"));
    }
}
