package dev.backprop4j.cli;

import com.google.gson.JsonObject;

import java.util.Locale;
import java.util.Map;

/**
 * The GPU comparison's table: one row per measurement, ours and PyTorch's side by side with their ratio, and what
 * each row means: GFLOP/s for sgemm, GB/s and the share of the same side's device-to-device copy for activations,
 * the peak memory a training step adds, and PyTorch's kernels per eager step where its profiler counted them.
 */
final class GpuBenchTable {
    private GpuBenchTable() {
    }

    static String markdown(String header, Map<String, GpuBench.Row> ours, Map<String, JsonObject> torch) {
        StringBuilder sb = new StringBuilder("GPU comparison: ").append(header).append(".\n\n");
        sb.append("| work | backprop4j | PyTorch | ours / PyTorch | notes |\n|---|---:|---:|---:|---|\n");
        double ourCopy = Double.NaN;
        double torchCopy = Double.NaN;
        for (Map.Entry<String, GpuBench.Row> e : ours.entrySet()) {
            if (e.getKey().startsWith("copy ")) {
                ourCopy = bytesPerSecond(e.getKey(), e.getValue().ms());
                JsonObject t = torch.get(e.getKey());
                torchCopy = t == null ? Double.NaN : bytesPerSecond(e.getKey(), t.get("ms").getAsDouble());
            }
        }
        for (Map.Entry<String, GpuBench.Row> e : ours.entrySet()) {
            String key = e.getKey();
            GpuBench.Row r = e.getValue();
            JsonObject t = torch.get(key);
            double tms = t == null ? Double.NaN : t.get("ms").getAsDouble();
            String notes;
            if (key.startsWith("sgemm ")) {
                double n = Double.parseDouble(key.split(" ")[1]);
                notes = String.format(Locale.ROOT, "%,.0f vs %,.0f GFLOP/s", gflops(n, r.ms()), gflops(n, tms));
            } else if (key.startsWith("gemm ")) { // "gemm MxNxK precision"
                String[] mnk = key.split(" ")[1].split("x");
                double flops = 2.0 * Double.parseDouble(mnk[0]) * Double.parseDouble(mnk[1]) * Double.parseDouble(mnk[2]);
                notes = String.format(Locale.ROOT, "%,.1f vs %,.1f TFLOP/s", flops / (r.ms() / 1000) / 1e12,
                        flops / (tms / 1000) / 1e12);
            } else if (key.startsWith("copy ") || key.startsWith("activation ")) {
                double ob = bytesPerSecond(key, r.ms());
                double tb = t == null ? Double.NaN : bytesPerSecond(key, tms);
                notes = String.format(Locale.ROOT, "%.0f vs %.0f GB/s", ob / 1e9, tb / 1e9)
                        + (key.startsWith("copy ") ? "" : String.format(Locale.ROOT, "; %.0f%% vs %.0f%% of copy",
                        100 * ob / ourCopy, 100 * tb / torchCopy));
            } else {
                String model = key.split(" ")[1];
                JsonObject kernels = torch.get("kernels " + model + " eager");
                notes = "peak memory per step " + mib(r.peakBytes()) + " vs "
                        + (t != null && t.has("peak_bytes") ? mib(t.get("peak_bytes").getAsLong()) : "-")
                        + (key.endsWith("eager") && kernels != null
                        ? String.format(Locale.ROOT, "; PyTorch runs %.0f kernels and copies per step",
                        kernels.get("ms").getAsDouble()) : "");
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", key, ms(r.ms()),
                    t == null ? "-" : ms(tms), t == null ? "-" : String.format(Locale.ROOT, "%.2fx",
                            r.ms() / tms), notes));
        }
        return sb.toString();
    }

    private static double gflops(double n, double ms) {
        return 2 * n * n * n / (ms / 1000) / 1e9;
    }

    /** Bytes moved per second: a copy and a forward read one array and write one; a backward reads two. */
    private static double bytesPerSecond(String key, double ms) {
        String[] parts = key.split(" ");
        double n = Double.parseDouble(parts[parts.length - 1]);
        double arrays = key.contains("backward") ? 3 : 2;
        return arrays * 4 * n / (ms / 1000);
    }

    private static String mib(long bytes) {
        return bytes <= 0 ? "-" : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }

    static String ms(double ms) {
        return ms >= 1 ? String.format(Locale.ROOT, "%.2f ms", ms) : String.format(Locale.ROOT, "%.1f us", ms * 1000);
    }
}
