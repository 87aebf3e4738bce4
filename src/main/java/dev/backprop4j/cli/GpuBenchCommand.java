package dev.backprop4j.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.Device;
import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code bench-gpu}: our GPU measurements ({@link GpuBench}) and the same work in PyTorch (torch_gpu_bench.py, shipped
 * in this jar and run with python3, TF32 matched row by row) in one run, printed as one Markdown table. Needs only a
 * Java runtime, this jar and, for the PyTorch columns, a python3 that imports torch. {@code --device cpu --quick} is
 * a dry run of both halves on the CPU, so the first GPU minute is not spent on script bugs.
 */
@Command(name = "bench-gpu", mixinStandardHelpOptions = true,
        description = "Time sgemm, activations and training steps here and in PyTorch on the same GPU; print one table.")
final class GpuBenchCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--device", defaultValue = "cuda",
            description = "cuda, cuda:N, or cpu for a dry run (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--quick", description = "Small sizes and short runs (a dry run).")
    boolean quick;

    @Option(names = "--python", defaultValue = "python3", description = "The Python with PyTorch (default: ${DEFAULT-VALUE}).")
    String python;

    @Option(names = "--no-torch", description = "Our half only.")
    boolean noTorch;

    @Option(names = "--out", paramLabel = "FILE.md", description = "Also write the table to this file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        Device dev = DeviceOption.parse(spec, device);
        Backends.of(dev); // fails now, with the reason, when CUDA is asked for and unusable
        if (out != null) {
            AtomicFile.checkWritable(out, 1 << 16, "the table");
        }
        Map<String, GpuBench.Row> ours = new GpuBench(dev, quick).run();
        Map<String, JsonObject> torch = new LinkedHashMap<>();
        String torchAbout = noTorch ? "PyTorch not run (--no-torch)" : runTorch(dev, torch);
        String table = GpuBenchTable.markdown(LocalDate.now() + ", " + (dev.isCuda() ? Cuda.description()
                : "CPU dry run") + ", Java " + System.getProperty("java.version") + "; " + torchAbout, ours, torch);
        w.print(table);
        w.flush();
        if (out != null) {
            byte[] bytes = table.getBytes(StandardCharsets.UTF_8);
            AtomicFile.write(out, ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
            w.println("written: " + out);
        }
        return 0;
    }

    /** Runs the PyTorch half; fills {@code rows} and returns its "about" line, or why it did not run. */
    private String runTorch(Device dev, Map<String, JsonObject> rows) throws IOException, InterruptedException {
        Path script = Files.createTempFile("backprop4j-torch-gpu-bench", ".py");
        try {
            try (InputStream in = GpuBenchCommand.class.getResourceAsStream("/dev/backprop4j/bench/torch_gpu_bench.py")) {
                if (in == null) {
                    throw new IllegalStateException("bench-gpu: torch_gpu_bench.py is missing from the jar");
                }
                Files.write(script, in.readAllBytes());
            }
            List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--device",
                    dev.isCuda() ? "cuda:" + dev.index() : "cpu"));
            if (quick) {
                cmd.add("--quick");
            }
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            } catch (IOException e) {
                return "PyTorch not run (" + python + ": " + e.getMessage() + ")";
            }
            String about = "PyTorch";
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("{")) {
                        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                        if (o.has("about")) {
                            about = o.get("about").getAsString();
                        } else {
                            rows.put(o.get("key").getAsString(), o);
                        }
                    }
                }
            }
            int code = p.waitFor();
            if (code != 0 && rows.isEmpty()) {
                return "PyTorch not run (" + python + " exited with " + code + ": " + about + ")";
            }
            return about + (dev.isCuda() ? ", TF32 matched per row" : "");
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
