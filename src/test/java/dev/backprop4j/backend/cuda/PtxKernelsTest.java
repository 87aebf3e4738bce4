package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Shape;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Checks of the committed PTX (kernels/ptx) against its CUDA sources (kernels/*.cu) and the Java launchers,
 * none of which needs a GPU: every source has its PTX; the PTX is what kernels/build-ptx.sh makes from the
 * source today (where the same nvcc is on the PATH); ptxas accepts it for sm_80 and sm_90 (where ptxas is on
 * the PATH); every kernel a launcher looks up is an entry of its module and every entry has a launcher; and the
 * op-code tables of the .cu files list the Java enums in ordinal order. Runs from the repository root.
 */
class PtxKernelsTest {

    private static final Path KERNELS = Path.of("kernels");
    private static final Path PTX = KERNELS.resolve("ptx");
    private static final Path BUILD_SCRIPT = KERNELS.resolve("build-ptx.sh");

    private static final Pattern NVCC_RELEASE = Pattern.compile("release \\S+, V[\\d.]+");
    private static final Pattern FLAGS_LINE = Pattern.compile("^NVCC_FLAGS=\"([^\"]*)\"", Pattern.MULTILINE);

    // ---- (a) every source has its PTX ---------------------------------------------------------------------

    @Test
    void everyCudaSourceHasItsPtx() throws IOException {
        List<String> modules = modules();
        assertFalse(modules.isEmpty(), "no kernels/*.cu found; the tests must run from the repository root");
        for (String m : modules) {
            assertTrue(Files.isRegularFile(ptx(m)), "kernels/" + m + ".cu has no kernels/ptx/" + m
                    + ".ptx: run kernels/build-ptx.sh");
        }
    }

    // ---- (b) the PTX is today's build of the source ---------------------------------------------------------

    @Test
    void ptxIsRebuiltByteForByte(@TempDir Path tmp) throws Exception {
        Optional<Path> nvcc = onPath("nvcc");
        assumeTrue(nvcc.isPresent(), "nvcc is not on the PATH: cannot rebuild the PTX to compare it");
        Matcher installed = NVCC_RELEASE.matcher(run(List.of(nvcc.get().toString(), "--version"), null));
        assertTrue(installed.find(), "cannot read the nvcc version");
        String[] flags = buildFlags();
        for (String m : modules()) {
            String madeBy = release(ptx(m)).orElse("an unnamed release");
            assumeTrue(madeBy.equals(installed.group()), "kernels/ptx/" + m + ".ptx was made by nvcc " + madeBy
                    + " but the nvcc on the PATH is " + installed.group() + ": its output may differ, not compared");
            Path out = tmp.resolve(m + ".ptx");
            List<String> cmd = new ArrayList<>();
            cmd.add(nvcc.get().toString());
            cmd.addAll(Arrays.asList(flags));
            cmd.addAll(List.of("-o", out.toString(), KERNELS.resolve(m + ".cu").toString()));
            run(cmd, "nvcc for kernels/" + m + ".cu");
            assertArrayEquals(Files.readAllBytes(ptx(m)), Files.readAllBytes(out),
                    "kernels/ptx/" + m + ".ptx is stale: run kernels/build-ptx.sh and commit the result");
        }
    }

    /** The flags of the NVCC_FLAGS line of build-ptx.sh, so the test and the script cannot drift apart. */
    private static String[] buildFlags() throws IOException {
        Matcher f = FLAGS_LINE.matcher(Files.readString(BUILD_SCRIPT));
        assertTrue(f.find(), "kernels/build-ptx.sh has no NVCC_FLAGS=\"...\" line");
        String[] flags = f.group(1).trim().split("\\s+");
        assertTrue(Arrays.asList(flags).contains("-ptx"), "NVCC_FLAGS must contain -ptx");
        return flags;
    }

    // ---- (c) ptxas accepts the PTX --------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"sm_80", "sm_90"})
    void ptxasAcceptsEveryModule(String arch, @TempDir Path tmp) throws Exception {
        Optional<Path> ptxas = onPath("ptxas");
        assumeTrue(ptxas.isPresent(), "ptxas is not on the PATH: cannot assemble the PTX for " + arch);
        Matcher version = NVCC_RELEASE.matcher(run(List.of(ptxas.get().toString(), "--version"), null));
        assertTrue(version.find(), "cannot read the ptxas version");
        for (String m : modules()) {
            String madeBy = release(ptx(m)).orElse(version.group());
            assumeTrue(releaseNumber(version.group()) >= releaseNumber(madeBy), "ptxas " + version.group()
                    + " is older than the nvcc " + madeBy + " that made kernels/ptx/" + m + ".ptx: not assembled");
            run(List.of(ptxas.get().toString(), "-arch=" + arch, "-o", tmp.resolve(m + ".cubin").toString(),
                    ptx(m).toString()), "ptxas -arch=" + arch + " kernels/ptx/" + m + ".ptx");
        }
    }

    // ---- (d) launchers and entries agree --------------------------------------------------------------------

    @Test
    void everyLaunchedKernelIsAnEntryAndEveryEntryIsLaunched() throws IOException {
        Map<String, List<String>> launched = CudaKernels.kernelNamesByModule();
        assertEquals(new TreeSet<>(modules()), new TreeSet<>(launched.keySet()),
                "every kernels/*.cu needs a launcher class and every launcher class its .cu");
        for (Map.Entry<String, List<String>> e : launched.entrySet()) {
            Set<String> entries = entries(e.getKey());
            for (String k : e.getValue()) {
                assertTrue(entries.contains(k), k + " is launched from Java but is no .entry of kernels/ptx/"
                        + e.getKey() + ".ptx (entries: " + entries + ")");
            }
            Set<String> unused = new TreeSet<>(entries);
            unused.removeAll(e.getValue());
            assertTrue(unused.isEmpty(), "kernels/" + e.getKey() + ".cu has kernels no launcher uses: " + unused);
        }
    }

    /**
     * Drives every public launcher on offline modules (no GPU, no driver): each launch is checked against the
     * kernel's PTX parameter list and thread limit by KernelModule.launch, at odd, power-of-two-adjacent and
     * past-the-grid sizes; together the calls must reach every kernel, with whole warps per block.
     */
    @Test
    void everyLauncherMatchesItsKernelsParameters() throws IOException {
        List<KernelModule.Launch> launches = new ArrayList<>();
        ElementwiseKernels ew = new ElementwiseKernels(offline(ElementwiseKernels.MODULE,
                ElementwiseKernels.kernelNames(), launches));
        LayoutKernels lay = new LayoutKernels(offline(LayoutKernels.MODULE, LayoutKernels.kernelNames(), launches));
        ReduceKernels red = new ReduceKernels(offline(ReduceKernels.MODULE, ReduceKernels.kernelNames(), launches));
        SoftmaxKernels sm = new SoftmaxKernels(offline(SoftmaxKernels.MODULE, SoftmaxKernels.kernelNames(), launches));
        RandomKernels rnd = new RandomKernels(offline(RandomKernels.MODULE, RandomKernels.kernelNames(), launches));
        OptimizerKernels opt = new OptimizerKernels(offline(OptimizerKernels.MODULE, OptimizerKernels.kernelNames(),
                launches));
        NormKernels norm = new NormKernels(offline(NormKernels.MODULE, NormKernels.kernelNames(), launches));
        EmbeddingKernels emb = new EmbeddingKernels(offline(EmbeddingKernels.MODULE, EmbeddingKernels.kernelNames(),
                launches));
        CUdeviceptr p = new CUdeviceptr();
        long[] sizes = {0, 1, 3, 17, 1023, 1025, 1L << 33};
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT64)) {
            for (long n : sizes) {
                for (UnaryOp op : UnaryOp.values()) {
                    ew.unaryForward(op, t, p, p, n, 0.5, 2.0, null);
                    ew.unaryBackward(op, t, p, p, p, p, n, 0.5, 2.0, null);
                }
                for (BinaryOp op : BinaryOp.values()) {
                    ew.binaryForward(op, t, p, p, p, n, null);
                    ew.binaryRowForward(op, t, p, p, p, 7, n, null);
                }
                for (ReduceOp op : ReduceOp.values()) {
                    for (long outer : new long[] {1, 5, 1000}) {
                        red.reduce(op, t, p, outer, n, 1, p, p, null);
                        red.reduce(op, t, p, outer, n, 9, p, p, null);
                    }
                }
                red.argmax(t, p, 5, n, 1, p, null);
                red.argmax(t, p, 5, n, 9, p, null);
                for (boolean log : new boolean[] {false, true}) {
                    sm.softmax(t, p, 3, n, 1, log, p, null);
                    sm.softmax(t, p, 3, n, 4, log, p, null);
                    sm.softmaxBackward(t, p, p, 3, n, 1, log, p, null);
                    sm.softmaxBackward(t, p, p, 3, n, 4, log, p, null);
                }
                sm.crossEntropyForward(t, p, p, n, 10, 1.0, p, p, p, null);
                sm.crossEntropyForward(t, p, p, 2, n, 0.5, p, p, null, null);
                sm.crossEntropyBackward(t, p, p, p, false, 1.0, n, 10, p, null);
                sm.crossEntropyBackward(t, p, p, p, true, 0.5, n, 10, p, null);
                red.accumulateMetrics(t, p, p, p, n, 10, p, null);
                for (UnaryOp op : new UnaryOp[] {null, UnaryOp.RELU, UnaryOp.GELU}) {
                    for (DType y : t == DType.FLOAT32 ? List.of(t, DType.BFLOAT16) : List.of(t)) {
                        ew.biasActivation(op, t, p, p, null, n, 33, 0.01, 0, p, y, null);
                        ew.biasActivationBackward(op, t, p, p, y, p, n, 33, 0.01, 0, p, p, p, red, null);
                        ew.biasActivationBackward(op, t, p, p, y, p, 7, n, 0.01, 0, p, null, null, red, null);
                    }
                }
                norm.layerNorm(t, p, p, p, n, 33, 1e-5, p, p, p, null);
                norm.layerNorm(t, p, null, null, 7, n, 1e-5, p, p, p, null);
                norm.layerNormBackward(t, p, p, p, p, p, n, 33, p, p, p, null);
                norm.layerNormBackward(t, p, p, p, null, p, 7, n, p, null, null, null);
                emb.embedding(t, p, p, n, 10, 7, p, p, null);
                emb.embeddingBackward(t, p, p, 7, 10, n, p, null);
                lay.gatherRows(t, p, p, n, 10, p, p, null);
                lay.scatterRows(t, p, p, n, 10, p, null, null);
                OptimizerKernels.Tensors one = new OptimizerKernels.Tensors(new long[] {n}, new long[] {64},
                        new long[] {128}, new long[] {192}, new long[] {256}, new long[] {320});
                opt.sgdStep(t, one, p, p, 0, 0, 0.01, false, null);
                opt.sgdStep(t, one, p, p, 0.9, 0.1, 0.01, true, null);
                opt.adamStep(t, one, p, p, 0.9, 0.999, 1e-8, 0.01, true, null);
                long[] many = new long[30];
                java.util.Arrays.fill(many, n);
                OptimizerKernels.Tensors grads = new OptimizerKernels.Tensors(many, null, many, null, null, null);
                opt.clipGradNorm(t, grads, 1.0, p, p, p, null);
                opt.clipGradNorm(t, one, Double.POSITIVE_INFINITY, p, p, p, null);
            }
            ew.binary(BinaryOp.ADD, t, p, Shape.of(4, 17), p, Shape.of(17), p, Shape.of(4, 17), null);
            ew.binary(BinaryOp.MUL, t, p, Shape.of(3, 1, 5), p, Shape.of(4, 1), p, Shape.of(3, 4, 5), null);
            ew.binary(BinaryOp.SUB, t, p, Shape.scalar(), p, Shape.of(2, 3), p, Shape.of(2, 3), null);
        }
        for (DType t : DType.values()) {
            for (long n : sizes) {
                lay.fill(t, p, n, 1.5, null);
                for (DType d : DType.values()) {
                    lay.cast(t, p, d, p, n, null);
                }
                for (Distribution dist : t.isArithmetic() ? Distribution.values() : new Distribution[0]) {
                    rnd.random(t, p, n, dist, 0, 1, 42, 1, null);
                    rnd.randomAt(t, p, n, dist, 0, 1, 42, p, p, null);
                }
                lay.narrow(t, p, 3, 10, n, 2, p, 5, 1, 4, null);
            }
            lay.broadcast(t, p, Shape.of(3, 1), p, Shape.of(2, 3, 1025), null);
            lay.transpose(t, p, 2, 33, 65, p, null);
            lay.transpose(t, p, 70_000, 3, 1, p, null);
            lay.transpose(t, p, 1, 1 << 22, 2, p, null);
        }
        red.countEqual(p, p, 1025, p, null);

        Set<String> expected = new TreeSet<>();
        CudaKernels.kernelNamesByModule().values().forEach(expected::addAll);
        Set<String> reached = launches.stream().map(l -> l.kernel().name()).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, reached, "every kernel must be reachable from a launcher");
        for (KernelModule.Launch l : launches) {
            assertEquals(0, l.block()[0] % 32, l.kernel().name() + " needs whole warps, got " + l.block()[0]);
        }
    }

    private static KernelModule offline(String module, List<String> names, List<KernelModule.Launch> sink)
            throws IOException {
        return KernelModule.offline(module, Files.readAllBytes(ptx(module)), names, sink::add);
    }

    /**
     * The BroadcastArgs a launcher packs, walked exactly as broadcast_offsets (kernels/common.cuh) walks them,
     * reach the same input elements as NumPy broadcasting.
     */
    @Test
    void broadcastPlanReachesNumpyOffsets() {
        int[][][] cases = {
            {{2, 3, 4}, {2, 3, 4}, {4}},
            {{3, 4, 5}, {3, 1, 5}, {4, 1}},
            {{2, 3}, {}, {2, 3}},
            {{5, 1, 7}, {1, 1, 7}, {5, 1, 1}},
            {{2, 1, 3, 1, 4}, {1, 3, 1, 4}, {2, 1, 1, 1, 1}},
            {{1}, {1}, {}},
        };
        for (int[][] c : cases) {
            Shape out = Shape.of(c[0]);
            Shape a = Shape.of(c[1]);
            Shape b = Shape.of(c[2]);
            long[] packed = BroadcastPlan.pack("test", out, a, b);
            int rank = (int) packed[0];
            for (long i = 0; i < out.size(); i++) {
                long rest = i;
                long oa = 0;
                long ob = 0;
                for (int d = rank - 1; d >= 0; d--) {
                    long size = packed[1 + d];
                    long idx = rest % size;
                    rest /= size;
                    oa += idx * packed[1 + BroadcastPlan.MAX_RANK + d];
                    ob += idx * packed[1 + 2 * BroadcastPlan.MAX_RANK + d];
                }
                assertEquals(numpyOffset(i, out, a), oa, "a of " + Arrays.deepToString(c) + " at " + i);
                assertEquals(numpyOffset(i, out, b), ob, "b of " + Arrays.deepToString(c) + " at " + i);
            }
        }
        assertEquals(2, BroadcastPlan.pack("test", Shape.of(2, 3, 4), Shape.of(2, 3, 4), Shape.of(4))[0],
                "a bias add merges to two dimensions");
    }

    private static long numpyOffset(long flat, Shape out, Shape in) {
        int[] od = out.dims();
        int[] id = in.dims();
        long off = 0;
        long stride = 1;
        for (int d = od.length - 1, k = id.length - 1; d >= 0; d--, k--) {
            long idx = flat % od[d];
            flat /= od[d];
            if (k >= 0) {
                off += (id[k] == 1 ? 0 : idx) * stride;
                stride *= id[k];
            }
        }
        return off;
    }

    private static Set<String> entries(String module) throws IOException {
        return new TreeSet<>(PtxEntries.parse(Files.readString(ptx(module), StandardCharsets.US_ASCII)).keySet());
    }

    // ---- (e) op-code tables ---------------------------------------------------------------------------------

    private static final Pattern ENUM_BLOCK = Pattern.compile("// @enum (\\w+) (\\w+)\\R(.*?)// @end", Pattern.DOTALL);

    @Test
    void opCodeTablesMatchJavaEnumOrder() throws IOException {
        Map<String, Enum<?>[]> expected = new LinkedHashMap<>();
        expected.put("UnaryOp", UnaryOp.values());
        expected.put("BinaryOp", BinaryOp.values());
        expected.put("ReduceOp", ReduceOp.values());
        expected.put("Distribution", Distribution.values());
        Map<String, List<String>> found = new LinkedHashMap<>();
        for (Path src : sourcesAndHeaders()) {
            Matcher block = ENUM_BLOCK.matcher(Files.readString(src));
            while (block.find()) {
                String javaEnum = block.group(1);
                String prefix = block.group(2);
                assertFalse(found.containsKey(javaEnum), javaEnum + " has two op-code tables (" + src + ")");
                Matcher entry = Pattern.compile("\\b" + prefix + "(\\w+)\\s*=\\s*(\\d+)").matcher(block.group(3));
                List<String> names = new ArrayList<>();
                while (entry.find()) {
                    assertEquals(names.size(), Integer.parseInt(entry.group(2)),
                            src + ": " + prefix + entry.group(1) + " must have code " + names.size());
                    names.add(entry.group(1));
                }
                found.put(javaEnum, names);
            }
        }
        for (Map.Entry<String, Enum<?>[]> e : expected.entrySet()) {
            assertTrue(found.containsKey(e.getKey()), "no '// @enum " + e.getKey() + "' table in kernels/");
            List<String> javaOrder = Stream.of(e.getValue()).map(Enum::name).collect(Collectors.toList());
            assertEquals(javaOrder, found.get(e.getKey()),
                    "the op codes of kernels/ must list " + e.getKey() + ".values() in order");
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static List<String> modules() throws IOException {
        try (Stream<Path> s = Files.list(KERNELS)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
                    .map(n -> n.substring(0, n.length() - 3)).sorted().collect(Collectors.toList());
        }
    }

    private static List<Path> sourcesAndHeaders() throws IOException {
        try (Stream<Path> s = Files.list(KERNELS)) {
            return s.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted()
                    .collect(Collectors.toList());
        }
    }

    private static Path ptx(String module) {
        return PTX.resolve(module + ".ptx");
    }

    /** The "release X.Y, VX.Y.Z" of the nvcc named in a PTX file's header comment. */
    private static Optional<String> release(Path ptxFile) throws IOException {
        String text = Files.readString(ptxFile, StandardCharsets.US_ASCII);
        Matcher m = NVCC_RELEASE.matcher(text.substring(0, Math.min(text.length(), 1024)));
        return m.find() ? Optional.of(m.group()) : Optional.empty();
    }

    /** "release 13.0, V13.0.88" as 1300 (major * 100 + minor), for ordering. */
    private static int releaseNumber(String release) {
        Matcher m = Pattern.compile("release (\\d+)\\.(\\d+)").matcher(release);
        assertTrue(m.find(), "cannot parse " + release);
        return Integer.parseInt(m.group(1)) * 100 + Integer.parseInt(m.group(2));
    }

    private static Optional<Path> onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, tool);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** Runs cmd, returns its output; fails the test (naming what) on a non-zero exit when what is not null. */
    private static String run(List<String> cmd, String what) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("timed out: " + String.join(" ", cmd));
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (what != null && p.exitValue() != 0) {
            fail(what + " failed (exit " + p.exitValue() + "): " + String.join(" ", cmd) + "\n" + text);
        }
        return text;
    }
}
