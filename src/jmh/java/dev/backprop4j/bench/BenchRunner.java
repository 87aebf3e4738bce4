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
 * Runs the whole benchmark suite on every backend present (cpu, and cuda where a GPU is usable), runs the
 * same work in PyTorch (when python3 can import torch) and NumPy (when it can import numpy) in the same session,
 * and writes target/bench/results.json, results.md and matmul.png (GFLOP/s by size per backend and peer). Prints
 * the Markdown table, headed by the CPU model, the Java version and the peers' versions.
 * Arguments: {@code --quick} (shorter runs), {@code --include REGEX} (benchmark classes), {@code --out DIR}.
 */
public final class BenchRunner {

    /** One measured row, with the same work's time in each peer (null where the peer did not run it). */
    record Row(String key, String device, double ms, String throughput, double allocBytesPerOp, Double numpyMs,
               Double torchMs) {
    }

    /** A peer's results: key -> ms, and one line on what it is (versions, threads). */
    record Peer(Map<String, Double> ms, String about) {
    }

    private BenchRunner() {
    }

    public static void main(String[] rawArgs) throws Exception {
        // exec:exec passes -Dbench.args as one argument: split it on white space
        String joined = String.join(" ", rawArgs).trim();
        String[] args = joined.isEmpty() ? new String[0] : joined.split("\\s+");
        boolean quick = false;
        String include = "dev.backprop4j.bench.(Matmul|Activation|SoftmaxCrossEntropy|TrainingStep)Benchmark";
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
        Peer torch = runPeer("torch_bench.py", "PyTorch");
        Peer numpy = runPeer("numpy_bench.py", "NumPy");
        List<Row> rows = new ArrayList<>();
        for (RunResult r : results) {
            rows.add(row(r, numpy.ms(), torch.ms()));
        }
        rows.sort((a, b) -> order(a).compareTo(order(b)));
        String table = markdown(rows, numpy, torch);
        Files.writeString(out.resolve("results.md"), table);
        Files.writeString(out.resolve("results.json"), json(rows));
        chart(rows, out.resolve("matmul.png"));
        System.out.println();
        System.out.println(table);
        System.out.println("written: " + out.resolve("results.md") + ", " + out.resolve("results.json") + ", "
                + out.resolve("matmul.png"));
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

    private static Row row(RunResult r, Map<String, Double> numpy, Map<String, Double> torch) {
        BenchmarkParams p = r.getParams();
        String bench = p.getBenchmark();
        double score = r.getPrimaryResult().getScore();
        double ms = switch (r.getPrimaryResult().getScoreUnit()) {
            case "ms/op" -> score;
            case "us/op" -> score / 1000;
            case "s/op" -> score * 1000;
            default -> throw new IllegalStateException("unexpected unit " + r.getPrimaryResult().getScoreUnit());
        };
        String key;
        String throughput;
        if (bench.contains("Matmul")) {
            int n = Integer.parseInt(p.getParam("n"));
            key = "matmul " + n;
            throughput = String.format(Locale.ROOT, "%.1f GFLOP/s", 2.0 * n * n * n / (ms / 1000) / 1e9);
        } else if (bench.contains("Activation")) {
            int size = Integer.parseInt(p.getParam("size"));
            boolean fwd = p.getParam("direction").equals("forward");
            key = "activation " + p.getParam("op") + " " + p.getParam("direction") + " " + size;
            throughput = String.format(Locale.ROOT, "%.1f GB/s", (fwd ? 8.0 : 12.0) * size / (ms / 1000) / 1e9);
        } else if (bench.contains("SoftmaxCrossEntropy")) {
            key = "softmax_cross_entropy";
            double bytes = 4.0 * SoftmaxCrossEntropyBenchmark.ROWS * SoftmaxCrossEntropyBenchmark.CLASSES * 4;
            throughput = String.format(Locale.ROOT, "%.1f GB/s", bytes / (ms / 1000) / 1e9);
        } else {
            String model = p.getParam("model");
            key = "training_step " + model;
            throughput = String.format(Locale.ROOT, "%.1f steps/s, %.1f GFLOP/s", 1000 / ms,
                    TrainingStepBenchmark.flops(model) / (ms / 1000) / 1e9);
        }
        double alloc = Double.NaN;
        for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) {
            if (e.getKey().endsWith("gc.alloc.rate.norm")) {
                alloc = e.getValue().getScore();
            }
        }
        boolean cpu = p.getParam("device").equals("cpu");
        return new Row(key, p.getParam("device"), ms, throughput, alloc, cpu ? numpy.get(key) : null,
                cpu ? torch.get(key) : null);
    }

    /**
     * Runs src/jmh/python/{@code script} with python3 (keys and ms on stdout, one JSON object a line); an empty
     * peer, with the reason printed, when python3 or its module is missing.
     */
    private static Peer runPeer(String script, String name) {
        Map<String, Double> out = new TreeMap<>();
        String about = name + " not available";
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
                            out.put(o.get("key").getAsString(), o.get("ms").getAsDouble());
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
        if (out.isEmpty()) {
            about = name + " not available (python3 cannot import it)";
        } else if (about.endsWith("not available")) {
            about = name;
        }
        return new Peer(out, about);
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

    private static String markdown(List<Row> rows, Peer numpy, Peer torch) {
        StringBuilder sb = new StringBuilder();
        sb.append("Measured ").append(LocalDate.now()).append(" on ").append(cpuModel()).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores, Java ")
                .append(System.getProperty("java.version")).append("; peers in the same session: ")
                .append(torch.about()).append("; ").append(numpy.about()).append(".\n\n");
        sb.append("| benchmark | device | time | throughput | allocated/op | PyTorch | ours / PyTorch | NumPy | ours / NumPy |\n");
        sb.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.key, r.device,
                    time(r.ms), r.throughput, bytes(r.allocBytesPerOp),
                    r.torchMs == null ? "-" : time(r.torchMs),
                    r.torchMs == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.ms / r.torchMs),
                    r.numpyMs == null ? "-" : time(r.numpyMs),
                    r.numpyMs == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.ms / r.numpyMs)));
        }
        return sb.toString();
    }

    private static String time(double ms) {
        return ms >= 1 ? String.format(Locale.ROOT, "%.2f ms", ms) : String.format(Locale.ROOT, "%.1f us", ms * 1000);
    }

    private static String bytes(double b) {
        if (Double.isNaN(b)) {
            return "-";
        }
        return b >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MB", b / (1 << 20))
                : b >= 1024 ? String.format(Locale.ROOT, "%.1f KB", b / 1024) : String.format(Locale.ROOT, "%.0f B", b);
    }

    private static String json(List<Row> rows) {
        Gson gson = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();
        List<Map<String, Object>> list = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("benchmark", r.key);
            m.put("device", r.device);
            m.put("ms", r.ms);
            m.put("throughput", r.throughput);
            m.put("allocBytesPerOp", r.allocBytesPerOp);
            m.put("numpyMs", r.numpyMs);
            m.put("torchMs", r.torchMs);
            list.add(m);
        }
        return gson.toJson(list);
    }

    private static void chart(List<Row> rows, Path file) throws java.io.IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title("float32 matmul (n x n)")
                .xAxisTitle("n").yAxisTitle("GFLOP/s").build();
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.key.startsWith("matmul ")) {
                double n = Double.parseDouble(r.key.substring(7));
                series.computeIfAbsent("backprop4j " + r.device, k -> new ArrayList<>())
                        .add(new double[]{n, 2 * n * n * n / (r.ms / 1000) / 1e9});
                if (r.numpyMs != null) {
                    series.computeIfAbsent("NumPy (OpenBLAS)", k -> new ArrayList<>())
                            .add(new double[]{n, 2 * n * n * n / (r.numpyMs / 1000) / 1e9});
                }
                if (r.torchMs != null) {
                    series.computeIfAbsent("PyTorch (CPU)", k -> new ArrayList<>())
                            .add(new double[]{n, 2 * n * n * n / (r.torchMs / 1000) / 1e9});
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
