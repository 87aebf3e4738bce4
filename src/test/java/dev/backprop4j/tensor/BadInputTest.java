package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input fails with IllegalArgumentException or IllegalStateException naming the op and the shapes. */
class BadInputTest {

    private static void fails(Class<? extends RuntimeException> type, Executable call, String... parts) {
        RuntimeException e = assertThrows(type, call);
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
        }
    }

    @Test
    void shapeMismatch() {
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).add(Tensor.zeros(4)), "add", "[2, 3]", "[4]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).matmul(Tensor.zeros(2, 3)), "matmul", "[2, 3]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).reshape(4, 2), "reshape", "[2, 3]", "[4, 2]");
        fails(IllegalArgumentException.class, () -> Tensor.of(new float[]{1, 2, 3}, 2, 2), "of", "[2, 2]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(3, 4).crossEntropy(Tensor.of(new int[]{1, 2}, 2)),
                "cross_entropy", "[2]", "[3, 4]");
    }

    @Test
    void badAxis() {
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).sum(2), "sum", "axis 2", "[2, 3]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).softmax(-3), "softmax", "axis -3", "[2, 3]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).narrow(1, 2, 2), "narrow", "[2, 3]");
    }

    @Test
    void wrongRank() {
        fails(IllegalArgumentException.class, () -> Tensor.zeros(3).matmul(Tensor.zeros(3, 2)), "matmul", "[3]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(3).transpose(), "transpose", "[3]");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3, 4).crossEntropy(Tensor.of(new int[]{1, 2}, 2)),
                "cross_entropy", "[2, 3, 4]");
    }

    @Test
    void backwardWithoutSeedOnNonScalar() {
        Tensor x = Tensor.zeros(2, 2).requiresGrad(true);
        fails(IllegalArgumentException.class, () -> x.mul(2.0).backward(), "backward", "[2, 2]", "seed");
        fails(IllegalStateException.class, () -> Tensor.zeros(1).backward(), "backward", "does not require grad");
    }

    @Test
    void mixingDtypes() {
        Tensor f32 = Tensor.zeros(2);
        Tensor f64 = Tensor.zeros(Shape.of(2), DType.FLOAT64, Device.CPU);
        fails(IllegalArgumentException.class, () -> f32.add(f64), "add", "float32", "float64");
        fails(IllegalArgumentException.class, () -> Tensor.of(new int[]{1}, 1).exp(), "exp", "int32");
        fails(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).crossEntropy(Tensor.zeros(2)),
                "cross_entropy", "int32", "float32");
    }

    @Test
    void mixingDevices() {
        // A tensor on a CUDA device cannot even be created where CUDA is missing; the error says why.
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.backprop4j.backend.cuda.Cuda.isAvailable(),
                "a GPU is present: the CUDA parity tests cover mixed devices");
        fails(IllegalStateException.class, () -> Tensor.zeros(2).to(Device.cuda(0)), "CUDA unavailable: ");
    }

    @Test
    void closedTensor() {
        Tensor x = Tensor.ones(2, 2);
        x.close();
        x.close(); // idempotent
        fails(IllegalStateException.class, () -> x.add(Tensor.ones(2, 2)), "add", "closed", "[2, 2]");
        fails(IllegalStateException.class, x::toFloatArray, "closed", "[2, 2]");
    }

    @Test
    void outOfRangeLabel() {
        fails(IllegalArgumentException.class,
                () -> Tensor.zeros(2, 3).crossEntropy(Tensor.of(new int[]{0, 3}, 2)), "cross_entropy", "label 3", "row 1");
    }
}
