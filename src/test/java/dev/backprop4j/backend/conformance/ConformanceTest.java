package dev.backprop4j.backend.conformance;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.backend.cpu.CpuBackend;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The conformance checks behind {@code doctor} and the parity tests find a wrong primitive, and only that one; and
 * the CPU backend's fast float32 paths pass every check against its reference loops, one test per check.
 */
class ConformanceTest {

    /** The CPU reference with one primitive wrong: sigmoid's output is off by one part in a thousand. */
    private static Backend cpuWithWrongSigmoid() {
        Backend cpu = CpuBackend.reference();
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    Object result;
                    try {
                        result = method.invoke(cpu, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (method.getName().equals("unary") && args[0] == UnaryOp.SIGMOID) {
                        Buffer out = (Buffer) args[2];
                        double[] v = cpu.readDoubles(out);
                        for (int i = 0; i < v.length; i++) {
                            v[i] *= 1.001;
                        }
                        switch (out.dtype()) {
                            case FLOAT32 -> {
                                float[] f = new float[v.length];
                                for (int i = 0; i < v.length; i++) {
                                    f[i] = (float) v[i];
                                }
                                cpu.write(out, f);
                            }
                            case FLOAT64 -> cpu.write(out, v);
                            case INT32 -> throw new AssertionError();
                        }
                    }
                    return result;
                });
    }

    @Test
    void aWrongPrimitiveFailsItsOwnChecksAndNoOthers() {
        List<ParityResult> results = Conformance.run(cpuWithWrongSigmoid());
        assertTrue(results.size() > 40, results.toString());
        for (ParityResult r : results) {
            // the backward check runs from each backend's own forward output, so it sees the wrong sigmoid too
            boolean usesSigmoid = r.check().startsWith("unary float") || r.check().startsWith("unaryBackward float");
            assertEquals(!usesSigmoid, r.passed(), r.toString());
            if (usesSigmoid) {
                assertTrue(r.detail().startsWith("SIGMOID n=1 element 0: cpu "), r.detail());
            }
        }
    }

    /** The CPU backend's fast float32 paths (Vector API, float loops) against its reference loops. */
    @TestFactory
    Stream<DynamicTest> theCpuFastPathsMatchTheReference() {
        return Conformance.checks(CpuBackend.INSTANCE).stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            ParityResult r = c.run();
            assertTrue(r.passed(), r.toString());
        }));
    }
}
