package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA emulator catches what it is there to catch: each fault planted in src/test/native/cuda-emu/selftest
 * (a missing barrier, a divergent shuffle, a write past the end, a barrier only part of the block reaches) stops
 * the run with a message naming the kernel, block, thread and source line, or, for the race, changes the result
 * with the thread order; and unclosed tensors on a small device do not run it out of memory.
 */
class CudaEmulatorTest {

    private static CudaEmulator.Run selftest(String kernel, int plant, String order) throws Exception {
        Path exe = CudaEmulator.assumeBuilt().resolve("emu-selftest");
        return CudaEmulator.run(List.of(exe.toString(), kernel, Integer.toString(plant)),
                Map.of("CUDA_EMU_THREAD_ORDER", order));
    }

    @Test
    void theKernelsWithoutFaultsGiveTheRightResultsInEveryThreadOrder() throws Exception {
        for (String order : List.of("forward", "reverse", "shuffle")) {
            assertEquals("block_sum 32896\n", selftest("block_sum", 0, order).output(), order);
            assertEquals("pair_sum 1 125\n", selftest("pair_sum", 0, order).output(), order);
            assertEquals("iota 999\n", selftest("iota", 0, order).output(), order);
            assertEquals("publish 7\n", selftest("publish", 0, order).output(), order);
        }
    }

    /** Threads run to the next barrier, so without one, thread 0 reads shared memory the others have not written. */
    @Test
    void aMissingBarrierChangesTheResultWithTheThreadOrder() throws Exception {
        CudaEmulator.Run forward = selftest("block_sum", 1, "forward");
        CudaEmulator.Run reverse = selftest("block_sum", 1, "reverse");
        assertEquals(0, forward.exitCode(), forward.output());
        assertNotEquals("block_sum 32896\n", forward.output(), "thread 0 ran first and summed unwritten slots");
        assertNotEquals(forward.output(), reverse.output(), "a race: the result depends on the order threads run in");
    }

    @Test
    void aShuffleThatPartOfTheWarpSkipsStopsTheRunNamingTheLanes() throws Exception {
        CudaEmulator.Run run = selftest("pair_sum", 1, "forward");
        assertNotEquals(0, run.exitCode());
        assertTrue(run.output().contains("cuda-emu: kernel pair_sum, block (0, 0, 0) of grid (1, 1, 1), block size "
                + "(64, 1, 1): warp 0: thread (0, 0, 0) waits at a shuffle at planted.cu:22 with mask 0xffffffff, but "
                + "lane 16 (thread (16, 0, 0)) has exited"), run.output());
    }

    @Test
    void aWritePastTheEndOfAnAllocationStopsTheRunNamingTheThread() throws Exception {
        CudaEmulator.Run run = selftest("iota", 1, "forward");
        assertNotEquals(0, run.exitCode());
        assertTrue(run.output().contains("cuda-emu: kernel iota, block (3, 0, 0) of grid (4, 1, 1), block size "
                + "(128, 1, 1), thread (104, 0, 0): invalid memory access at 0x"), run.output());
        assertTrue(run.output().contains(": 0 bytes past the end of the allocation of 4000 bytes at 0x"), run.output());
    }

    @Test
    void aBarrierOnlyPartOfTheBlockReachesStopsTheRun() throws Exception {
        CudaEmulator.Run run = selftest("publish", 1, "forward");
        assertNotEquals(0, run.exitCode());
        assertTrue(run.output().contains("kernel publish, block (0, 0, 0) of grid (1, 1, 1), block size (64, 1, 1): "
                + "__syncthreads at planted.cu:38 reached by part of the block: threads 0-31 wait there, threads "
                + "32-63 have exited"), run.output());
    }

    /** {@code y = x.add(1)} on 16 MiB, 100 times, never closed, on a 256 MiB device: 1.6 GB go out and come back. */
    @Test
    void unclosedTensorsDoNotRunASmallDeviceOutOfMemory() throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of("CUDA_EMU_MEMORY", "256M"), UnclosedLoop.class);
        assertEquals(0, run.exitCode(), run.output());
        assertTrue(run.output().contains("LOOP OK"), run.output());
    }

    /** Run in a child JVM on the emulator. */
    public static final class UnclosedLoop {
        public static void main(String[] args) {
            Tensor x = Tensor.zeros(Shape.of(4 << 20), DType.FLOAT32, Device.cuda(0));
            float last = 0;
            for (int i = 0; i < 100; i++) {
                Tensor y = x.add(i);
                if (i % 25 == 0) {
                    last = y.narrow(0, 0, 1).item() == i ? last + 1 : Float.NaN;
                }
            }
            System.out.println(last == 4 ? "LOOP OK " + ((CudaBackend) dev.backprop4j.tensor.Backends.of(
                    Device.cuda(0))).memoryStats() : "LOOP WRONG");
            System.exit(0);
        }
    }
}
