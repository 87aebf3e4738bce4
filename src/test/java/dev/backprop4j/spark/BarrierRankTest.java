package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Which device a training task takes: Spark's GPU address when its GPU scheduling gives one, else on one machine
 * the partition modulo the GPUs there (two here), else the CPU; auto never takes the CUDA emulator; cuda without a
 * GPU fails, saying what to set.
 */
class BarrierRankTest {
    private static Device device(String asked, String[] gpus, boolean local, int partition, boolean emulated) {
        return BarrierRank.device(asked, gpus, local, partition, 2, emulated, null);
    }

    @Test
    void sparksGpuAddressComesFirst() {
        assertEquals(Device.cuda(1), device("cuda", new String[] {"1"}, false, 0, false));
        assertEquals(Device.cuda(1), device("auto", new String[] {"1"}, true, 0, false));
        assertEquals(Device.CPU, device("cpu", new String[] {"1"}, true, 0, false));
    }

    @Test
    void onOneMachineWithoutGpuSchedulingThePartitionPicksTheGpu() {
        assertEquals(Device.cuda(0), device("cuda", null, true, 0, false));
        assertEquals(Device.cuda(1), device("cuda", null, true, 1, false));
        assertEquals(Device.cuda(0), device("cuda", new String[0], true, 2, false));
        assertEquals(Device.cuda(1), device("auto", null, true, 3, false));
    }

    @Test
    void autoNeverTakesTheEmulatorButCudaDoes() {
        assertEquals(Device.CPU, device("auto", null, true, 1, true));
        assertEquals(Device.CPU, device("auto", new String[] {"0"}, false, 1, true));
        assertEquals(Device.cuda(1), device("cuda", null, true, 1, true));
    }

    @Test
    void cudaWithoutAGpuFailsSayingWhy() {
        Exception none = assertThrows(IllegalStateException.class, () -> device("cuda", null, false, 0, false));
        assertEquals("device cuda: Spark gave this task no GPU (set spark.task.resource.gpu.amount and "
                + "spark.executor.resource.gpu.amount, with a discovery script)", none.getMessage());
        Exception unavailable = assertThrows(IllegalStateException.class,
                () -> BarrierRank.device("cuda", new String[] {"0"}, true, 0, 0, false, "no libcuda.so.1"));
        assertEquals("device cuda: CUDA unavailable: no libcuda.so.1", unavailable.getMessage());
        assertEquals(Device.CPU, BarrierRank.device("auto", new String[] {"0"}, true, 0, 0, false, "no libcuda.so.1"));
    }
}
