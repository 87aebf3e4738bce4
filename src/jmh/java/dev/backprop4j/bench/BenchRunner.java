package dev.backprop4j.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.backprop4j.backend.cuda.Cuda;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs the whole benchmark suite on every backend present (cpu, and cuda where a GPU is usable) and the same work in
 * its peers, side by side in one session: PyTorch (when python3 can import torch), NumPy (when it can import numpy),
 * and, with the opt-in bench-jvm-peers Maven profile, DJL (PyTorch engine) and Deeplearning4j (ND4J) under JMH.
 * Writes target/bench/results.json, results.md and matmul.png (GFLOP/s by size per backend and peer), and prints the
 * Markdown table headed by the CPU model, the Java version and the peers' versions; every time is the mean over five
 * measured rounds with the range of the rounds beside it.
 * Arguments: {@code --quick} (shorter runs), {@code --include REGEX} (benchmark classes), {@code --out DIR}.
 */
public final class BenchRunner {

    /** A mean time in milliseconds and the range of the measured rounds. */
    record Timing(double ms, double min, double max) {
    }

    /** One measured row of ours. */
    record Row(String key, String device, Timing time, String throughput, double allocBytesPerOp) {
    }

    /** A peer: its name, one line on what it is (versions, threads), and key -> timing. */
    record Peer(String name, String about, Map<String, Timing> times) {
    }

    private static final String OURS = "dev.backprop4j.bench.(Matmul|Activation|SoftmaxCrossEntropy|TrainingStep)Benchmark";
    private static final String JVM_PEERS = "dev.backprop4j.bench.peers.(Djl|Dl4j)Benchmark";

    private BenchRunner() {
    }

    /** The arguments of a benchmark's main: exec:exec passes -Dbench.args as one argument, split on white space. */
    static String[] args(String[] raw) {
        String joined = String.join(" ", raw).trim();
        return joined.isEmpty() ? new String[0] : joined.split("\\s+");
    }

    public static void main(String[] rawArgs) throws Exception {
        String[] args = args(rawArgs);
        boolean quick = false;
        boolean jvmPeers = onClasspath("dev.backprop4j.bench.peers.DjlBenchmark");
        String include = jvmPeers ? "(" + OURS + "|" + JVM_PEERS + ")" : OURS;
        Path out = Path.of("target", "bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--include" -> include = args[++i];
                case "--out" -> out = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (expected --quick, --include REGEX, --out DIR)");
            }
        }
        if (!jvmPeers) {
            System.err.println("bench: DJL and Deeplearning4j not compared (opt in with -Pbench-jvm-peers)");
        }
        Files.createDirectories(out);
        List<String> devices = new ArrayList<>(List.of("cpu"));
        if (Cuda.isAvailable()) {
            devices.add("cuda");
        } else {
            System.err.println("bench: CUDA unavailable (" + Cuda.unavailableReason() + "): cpu only");
        }
        ChainedOptionsBuilder opts = new OptionsBuilder().include(include)
                .param("device", devices.toArray(new String[0]))
                .addProfiler(GCProfiler.class).forks(1)
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "-Xmx8g");
        if (quick) {
            opts.warmupIterations(1).measurementIterations(2).warmupTime(TimeValue.milliseconds(500))
                    .measurementTime(TimeValue.milliseconds(500));
        }
        List<RunResult> results = new ArrayList<>(new Runner(opts.build()).run());
        List<Peer> peers = new ArrayList<>();
        peers.add(runPython("torch_bench.py", "PyTorch"));
        peers.add(runPython("numpy_bench.py", "NumPy"));
        List<Row> rows = new ArrayList<>();
        Map<String, Map<String, Timing>> jvm = new TreeMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            if (bench.startsWith("dev.backprop4j.bench.peers.")) {
                String peer = bench.contains("Dl4j") ? "DL4J" : "DJL";
                jvm.computeIfAbsent(peer, k -> new TreeMap<>()).put(key(r.getParams()), timing(r));
            } else {
                rows.add(row(r));
            }
        }
        if (jvmPeers) {
            peers.add(new Peer("DJL", "DJL 0.36.0 (PyTorch engine, libtorch 2.7.1 CPU)", jvm.getOrDefault("DJL", Map.of())));
            peers.add(new Peer("DL4J", "Deeplearning4j/ND4J 1.0.0-M2.1 (CPU)", jvm.getOrDefault("DL4J", Map.of())));
        }
        rows.sort((a, b) -> order(a).compareTo(order(b)));
        String table = markdown(rows, peers);
        Files.writeString(out.resolve("results.md"), table);
        Files.writeString(out.resolve("results.json"), json(rows, peers));
        chart(rows, peers, out.resolve("matmul.png"));
        System.out.println();
        System.out.println(table);
        System.out.println("written: " + out.resolve("results.md") + ", " + out.resolve("results.json") + ", "
                + out.resolve("matmul.png"));
    }

    private static boolean onClasspath(String className) {
        try {
            Class.forName(className, false, BenchRunner.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static String order(Row r) {
        String[] parts = r.key.split(" ");
        String kind = switch (parts[0]) {
            case "matmul" -> "0";
            case "activation" -> "1";
            case "softmax_cross_entropy" -> "2";
            default -> "3";
        };
        String size = parts.length > 1 && parts[parts.length - 1].matches("\\d+")
                ? String.format("%012d", Long.parseLong(parts[parts.length - 1])) : "";
        return kind + " " + r.key.replaceAll("\\d+$", "") + size + " " + r.device;
    }

    /** The row's key from its benchmark and parameters, the same for ours and the JVM peers. */
    private static String key(BenchmarkParams p) {
        String bench = p.getBenchmark();
        if (bench.contains("Activation")) {
            return "activation " + p.getParam("op") + " " + p.getParam("direction") + " " + p.getParam("size");
        } else if (bench.contains("SoftmaxCrossEntropy")) {
            return "softmax_cross_entropy";
        } else if (p.getParam("n") != null) {
            return "matmul " + p.getParam("n");
        }
        return "training_step " + p.getParam("model");
    }

    private static Timing timing(RunResult r) {
        double scale = switch (r.getPrimaryResult().getScoreUnit()) {
            case "ms/op" -> 1;
            case "us/op" -> 1e-3;
            case "s/op" -> 1e3;
            default -> throw new IllegalStateException("unexpected unit " + r.getPrimaryResult().getScoreUnit());
        };
        var stats = r.getPrimaryResult().getStatistics();
        return new Timing(stats.getMean() * scale, stats.getMin() * scale, stats.getMax() * scale);
    }

    private static Row row(RunResult r) {
        BenchmarkParams p = r.getParams();
        String key = key(p);
        Timing t = timing(r);
        double seconds = t.ms() / 1000;
        String throughput;
        if (key.startsWith("matmul ")) {
            int n = Integer.parseInt(p.getParam("n"));
            throughput = String.format(Locale.ROOT, "%.1f GFLOP/s", 2.0 * n * n * n / seconds / 1e9);
        } else if (key.startsWith("activation ")) {
            int size = Integer.parseInt(p.getParam("size"));
            boolean fwd = p.getParam("direction").equals("forward");
            throughput = String.format(Locale.ROOT, "%.1f GB/s", (fwd ? 8.0 : 12.0) * size / seconds / 1e9);
        } else if (key.equals("softmax_cross_entropy")) {
            double bytes = 4.0 * SoftmaxCrossEntropyBenchmark.ROWS * SoftmaxCrossEntropyBenchmark.CLASSES * 4;
            throughput = String.format(Locale.ROOT, "%.1f GB/s", bytes / seconds / 1e9);
        } else {
            String model = p.getParam("model");
            throughput = String.format(Locale.ROOT, "%.1f steps/s, %.1f GFLOP/s", 1 / seconds,
                    TrainingStepBenchmark.flops(model) / seconds / 1e9);
        }
        double alloc = Double.NaN;
        for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) {
            if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                alloc = e.getValue().getScore();
            }
        }
        return new Row(key, p.getParam("device"), t, throughput, alloc);
    }

    /**
     * Runs src/jmh/python/{@code script} with python3 (keys and times on stdout, one JSON object a line); a peer
     * without times, with the reason printed, when python3 or its module is missing.
     */
    private static Peer runPython(String script, String name) {
        Map<String, Timing> times = new TreeMap<>();
        String about = name;
        Path path = Path.of("src", "jmh", "python", script);
        try {
            ProcessBuilder pb = new ProcessBuilder("python3", path.toString()).redirectErrorStream(true);
            // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE pin old OpenBLAS builds to a safe kernel on some machines and
            // slow a current NumPy; the comparison wants each peer at its best.
            pb.environment().remove("OPENBLAS_CORETYPE");
            pb.environment().remove("OPENBLAS_L2_SIZE");
            Process proc = pb.start();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("{")) {
                        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                        if (o.has("about")) {
                            about = o.get("about").getAsString();
                        } else {
                            times.put(o.get("key").getAsString(), new Timing(o.get("ms").getAsDouble(),
                                    o.get("min").getAsDouble(), o.get("max").getAsDouble()));
                        }
                    } else {
                        System.err.println(name + ": " + line);
                    }
                }
            }
            if (proc.waitFor() != 0) {
                System.err.println("bench: the " + name + " comparison failed (exit " + proc.exitValue()
                        + "); rows without it");
            }
        } catch (Exception e) {
            System.err.println("bench: no " + name + " comparison (" + e.getMessage() + ")");
        }
        if (times.isEmpty()) {
            about = name + " not available (python3 cannot import it)";
        }
        return new Peer(name, about, times);
    }

    /** The CPU's model name (Linux /proc/cpuinfo), else the architecture. */
    static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) {
                    String family = "";
                    for (String f : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                        if (f.startsWith("cpu family") && family.isEmpty()) {
                            family = " family " + f.substring(f.indexOf(':') + 1).trim();
                        }
                        if (f.startsWith("model\t") && !family.contains("model")) {
                            family += " model " + f.substring(f.indexOf(':') + 1).trim();
                        }
                    }
                    return l.substring(l.indexOf(':') + 1).trim() + " (" + family.trim() + ")";
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    private static String markdown(List<Row> rows, List<Peer> peers) {
        List<Peer> present = peers.stream().filter(p -> !p.times().isEmpty()).toList();
        StringBuilder sb = new StringBuilder();
        sb.append("Measured ").append(LocalDate.now()).append(" on ").append(cpuModel()).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores, Java ")
                .append(System.getProperty("java.version")).append("; peers in the same session: ")
                .append(String.join("; ", peers.stream().map(Peer::about).toList()))
                .append(". Times: mean of the measured rounds (range of the rounds).\n\n");
        sb.append("| benchmark | device | time | throughput | allocated/op |");
        present.forEach(p -> sb.append(" ").append(p.name()).append(" | ours / ").append(p.name()).append(" |"));
        sb.append("\n|---|---|---:|---:|---:|").append("---:|---:|".repeat(present.size())).append('\n');
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |", r.key, r.device, time(r.time),
                    r.throughput, bytes(r.allocBytesPerOp)));
            for (Peer p : present) {
                Timing t = r.device.equals("cpu") ? p.times().get(r.key) : null;
                sb.append(t == null ? " - | - |" : String.format(Locale.ROOT, " %s | %.2fx |", time(t),
                        r.time.ms() / t.ms()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String time(Timing t) {
        return t.ms() >= 1
                ? String.format(Locale.ROOT, "%.2f ms (%.2f-%.2f)", t.ms(), t.min(), t.max())
                : String.format(Locale.ROOT, "%.1f us (%.1f-%.1f)", t.ms() * 1000, t.min() * 1000, t.max() * 1000);
    }

    private static String bytes(double b) {
        if (Double.isNaN(b)) {
            return "-";
        }
        return b >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", b / (1 << 20))
                : b >= 1024 ? String.format(Locale.ROOT, "%.1f KB", b / 1024) : String.format(Locale.ROOT, "%.0f B", b);
    }

    private static String json(List<Row> rows, List<Peer> peers) {
        Gson gson = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();
        List<Map<String, Object>> list = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("benchmark", r.key);
            m.put("device", r.device);
            m.put("time", r.time);
            m.put("throughput", r.throughput);
            m.put("allocBytesPerOp", r.allocBytesPerOp);
            Map<String, Timing> peerTimes = new LinkedHashMap<>();
            for (Peer p : peers) {
                if (r.device.equals("cpu") && p.times().containsKey(r.key)) {
                    peerTimes.put(p.name(), p.times().get(r.key));
                }
            }
            m.put("peers", peerTimes);
            list.add(m);
        }
        return gson.toJson(list);
    }

    private static void chart(List<Row> rows, List<Peer> peers, Path file) throws java.io.IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title("float32 matmul (n x n)")
                .xAxisTitle("n").yAxisTitle("GFLOP/s").build();
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.key.startsWith("matmul ")) {
                double n = Double.parseDouble(r.key.substring(7));
                series.computeIfAbsent("backprop4j " + r.device, k -> new ArrayList<>())
                        .add(new double[]{n, 2 * n * n * n / (r.time.ms() / 1000) / 1e9});
                for (Peer p : peers) {
                    Timing t = r.device.equals("cpu") ? p.times().get(r.key) : null;
                    if (t != null) {
                        series.computeIfAbsent(p.name(), k -> new ArrayList<>())
                                .add(new double[]{n, 2 * n * n * n / (t.ms() / 1000) / 1e9});
                    }
                }
            }
        }
        if (series.isEmpty()) {
            return;
        }
        series.forEach((name, pts) -> chart.addSeries(name, pts.stream().mapToDouble(p -> p[0]).toArray(),
                pts.stream().mapToDouble(p -> p[1]).toArray()));
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
