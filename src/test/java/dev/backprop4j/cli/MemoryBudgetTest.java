package dev.backprop4j.cli;

import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.TrainingPlan;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory a run is refused for: parameters, gradients and Adam's state, and four float32 tensors of each kept
 * output's width per row; with bf16 autocast the kept activation in bfloat16 and the weights' bfloat16 copies.
 */
class MemoryBudgetTest {
    private static RunSpec spec(Autocast.Precision precision) {
        return RunSpec.builder().hidden(1024, 1024).plan(new TrainingPlan(0, 1, 0, 0, 0, false, precision)).build()
                .fittedTo(784, 10);
    }

    @Test
    void float32TrainingCountsStateAndFourTensorsPerKeptWidth() {
        RunSpec s = spec(Autocast.Precision.FP32);
        long params = s.parameterCount();
        assertEquals(4 * params * 4 + 16L * 4096 * s.activationWidths(), MemoryBudget.bytesNeeded(s, true, 4096));
        assertEquals(4 * params, MemoryBudget.bytesNeeded(s, false, 0), "scoring: the parameters alone");
    }

    @Test
    void bf16NeedsLessForABatchHeavyRunAndMoreForATinyOne() {
        long fp32 = MemoryBudget.bytesNeeded(spec(Autocast.Precision.FP32), true, 65536);
        long bf16 = MemoryBudget.bytesNeeded(spec(Autocast.Precision.BF16), true, 65536);
        assertTrue(bf16 < fp32, bf16 + " bytes in bf16, " + fp32 + " in fp32");
        assertTrue(MemoryBudget.bytesNeeded(spec(Autocast.Precision.BF16), true, 1)
                > MemoryBudget.bytesNeeded(spec(Autocast.Precision.FP32), true, 1), "the weight copies");
    }
}
