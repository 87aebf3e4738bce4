package dev.backprop4j.bench;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Norm;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Architecture;
import dev.backprop4j.train.Evaluation;
import dev.backprop4j.train.RunSpec;
import dev.backprop4j.train.Trainer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The tabular benchmark: a table with categorical and numeric columns (by default the German credit data, 1,000 rows,
 * 13 categorical and 7 numeric columns, src/jmh/data/credit-g) trained by us and by PyTorch side by side in one run,
 * on the same model written with torch.nn, from the same initial weights, on the same batches: for each model and
 * seed, our run (the one {@link Trainer}, as {@code train} builds it) writes its initial state dict, the encoded rows
 * and every epoch's batch order to a safetensors file, and src/jmh/python/torch_tabular.py trains the same from it.
 * Reports each seed's test accuracy for both, their mean and deviation, and the time per epoch (median and range,
 * the first epoch of each run left out as warm-up) with the ratio. Writes target/bench/tabular.md.
 * Arguments: {@code --data FILE --categorical COLS} (another table), {@code --seeds N} (5), {@code --epochs N} (20),
 * {@code --quick} (2 seeds, 3 epochs: a dry run), {@code --out DIR}.
 */
public final class TabularBench {
    private static final String CREDIT_G_CATEGORICAL = "checking_status,credit_history,purpose,savings_status,"
            + "employment,personal_status,other_parties,property_magnitude,other_payment_plans,housing,job,"
            + "own_telephone,foreign_worker";

    /** A model of the benchmark: its name and its run (architecture, activation). */
    private record Model(String name, Architecture architecture, Activation activation) {
    }

    /** One library's run of one model and seed: test accuracy, and milliseconds per epoch. */
    private record Run(double accuracy, double[] epochMs) {
    }

    private TabularBench() {
    }

    public static void main(String[] rawArgs) throws Exception {
        String[] args = BenchRunner.args(rawArgs);
        Path data = Path.of("src/jmh/data/credit-g/credit-g.csv");
        String categorical = CREDIT_G_CATEGORICAL;
        int seeds = 5;
        int epochs = 20;
        Path out = Path.of("target", "bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]);
                case "--categorical" -> categorical = args[++i];
                case "--seeds" -> seeds = Integer.parseInt(args[++i]);
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--quick" -> {
                    seeds = 2;
                    epochs = 3;
                }
                case "--out" -> out = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (expected --data FILE, "
                        + "--categorical COLS, --seeds N, --epochs N, --quick, --out DIR)");
            }
        }
        List<Model> models = List.of(
                new Model("mlp 128,128 relu", Architecture.mlp(128, 128), Activation.RELU),
                new Model("resmlp 64x2 batchnorm gelu", Architecture.resMlp(64, 2, 2, Norm.BATCH),
                        Activation.GELU_EXACT));
        DataSource source = DataSource.table(data, -1, categorical);
        Files.createDirectories(out);
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "%s, %d seeds, %d epochs, AdamW lr 1e-3 weight decay 1e-4, batch 64, "
                + "cosine; CPU %s, Java %s, %s%n%n", data.getFileName(), seeds, epochs, BenchRunner.cpuModel(),
                System.getProperty("java.version"), torchAbout()));
        md.append("| model | backprop4j test accuracy | PyTorch test accuracy | backprop4j ms/epoch | PyTorch ms/epoch "
                + "| ratio |\n|---|---|---|---|---|---|\n");
        for (Model m : models) {
            List<Run> ours = new ArrayList<>();
            List<Run> theirs = new ArrayList<>();
            for (int seed = 1; seed <= seeds; seed++) {
                Path exchange = out.resolve("tabular-exchange.safetensors");
                ours.add(ours(source, m, seed, epochs, exchange));
                theirs.add(torch(exchange));
                System.out.printf(Locale.ROOT, "%s seed %d: backprop4j %.2f%%, PyTorch %.2f%%%n", m.name(), seed,
                        100 * ours.get(seed - 1).accuracy(), 100 * theirs.get(seed - 1).accuracy());
            }
            double[] a = epochTimes(ours);
            double[] b = epochTimes(theirs);
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.2f |%n",
                    m.name(), accuracies(ours), accuracies(theirs), median(a), a[0], a[a.length - 1], median(b), b[0],
                    b[b.length - 1], median(a) / median(b)));
        }
        Files.writeString(out.resolve("tabular.md"), md);
        System.out.println();
        System.out.print(md);
    }

    /** Our run of {@code m} with {@code seed}, after writing what PyTorch needs to do the same to {@code exchange}. */
    private static Run ours(DataSource source, Model m, int seed, int epochs, Path exchange) throws Exception {
        Dataset.Split split = source.load(seed);
        RunSpec spec = RunSpec.builder().data(source).architecture(m.architecture()).activation(m.activation())
                .optimizer(RunSpec.OptimizerKind.ADAMW).lr(1e-3).weightDecay(1e-4).batch(64).epochs(epochs)
                .seed(seed).build().fittedTo(split);
        Device cpu = Device.CPU;
        try (Sequential model = spec.newModel(cpu); Optimizer opt = spec.newOptimizer(model);
             Trainer trainer = spec.newTrainer(model, opt)) {
            DataLoader loader = new DataLoader(split.train(), spec.batch(), true, seed, false, cpu);
            trainer.schedule(spec.lrSchedule(loader.batches()));
            writeExchange(exchange, spec, model, split, loader, m);
            double[] ms = new double[epochs];
            for (int e = 1; e <= epochs; e++) {
                long t0 = System.nanoTime();
                trainer.epoch(loader, e, null);
                ms[e - 1] = (System.nanoTime() - t0) / 1e6;
            }
            Evaluation eval = Evaluation.of(model, new DataLoader(split.test(), 1000, false, 0, false, cpu));
            return new Run(eval.accuracy(), ms);
        }
    }

    /** The initial state dict, the encoded rows, every epoch's row order and the settings, for the PyTorch run. */
    private static void writeExchange(Path file, RunSpec spec, Sequential model, Dataset.Split split, DataLoader loader,
                                      Model m) throws Exception {
        Map<String, Tensor> t = new LinkedHashMap<>();
        model.stateDict().forEach((k, v) -> t.put("model." + k, v));
        put(t, "train", split.train());
        put(t, "test", split.test());
        int epochs = spec.epochs();
        int n = split.train().size();
        int[] orders = new int[epochs * n];
        for (int e = 1; e <= epochs; e++) {
            System.arraycopy(loader.order(e), 0, orders, (e - 1) * n, n);
        }
        t.put("order", Tensor.of(orders, epochs, n));
        var enc = split.encoding();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("model", m.architecture().kind().name().toLowerCase(Locale.ROOT));
        meta.put("sizes", Arrays.toString(spec.sizes()));
        meta.put("hidden", Arrays.toString(m.architecture().kind() == Architecture.Kind.MLP
                ? Arrays.copyOfRange(spec.sizes(), 1, spec.sizes().length - 1) : new int[] {spec.sizes()[1]}));
        meta.put("blocks", Integer.toString(m.architecture().blocks()));
        meta.put("expansion", Integer.toString(m.architecture().expansion()));
        meta.put("activation", m.activation().label());
        meta.put("numeric", Integer.toString(enc.numericCount()));
        meta.put("cardinalities", Arrays.toString(enc.cardinalities()));
        meta.put("classes", Integer.toString(enc.classes().size()));
        meta.put("lr", Double.toString(spec.lr()));
        meta.put("weight_decay", Double.toString(spec.weightDecay()));
        meta.put("batch", Integer.toString(spec.batch()));
        Safetensors.write(file, t, meta);
        t.forEach((k, v) -> {
            if (!k.startsWith("model.")) {
                v.close();
            }
        });
    }

    private static void put(Map<String, Tensor> t, String name, Dataset d) {
        float[] x = new float[d.size() * d.features()];
        int[] y = new int[d.size()];
        for (int i = 0; i < d.size(); i++) {
            System.arraycopy(d.sample(i), 0, x, i * d.features(), d.features());
            y[i] = d.label(i);
        }
        t.put(name + "_x", Tensor.of(x, d.size(), d.features()));
        t.put(name + "_y", Tensor.of(y, d.size()));
    }

    /** PyTorch's run from the exchange file: one JSON line {"accuracy": a, "epoch_ms": [...]}. */
    private static Run torch(Path exchange) throws Exception {
        String line = python("src/jmh/python/torch_tabular.py", exchange.toString());
        var json = com.google.gson.JsonParser.parseString(line).getAsJsonObject();
        var ms = json.getAsJsonArray("epoch_ms");
        double[] epochMs = new double[ms.size()];
        for (int i = 0; i < epochMs.length; i++) {
            epochMs[i] = ms.get(i).getAsDouble();
        }
        return new Run(json.get("accuracy").getAsDouble(), epochMs);
    }

    private static String torchAbout() {
        try {
            return "PyTorch " + python("-c", "import torch; print(torch.__version__, torch.get_num_threads(), "
                    + "'threads')");
        } catch (Exception e) {
            throw new IllegalStateException("the tabular benchmark needs PyTorch (python3 -m pip install torch "
                    + "safetensors): " + e.getMessage(), e);
        }
    }

    /** Runs python3 with {@code args}; its last line of standard output, or an error with all it printed. */
    private static String python(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("python3"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l = r.readLine(); l != null; l = r.readLine()) {
                lines.add(l);
            }
        }
        if (p.waitFor() != 0 || lines.isEmpty()) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + String.join("\n", lines));
        }
        return lines.get(lines.size() - 1).strip();
    }

    /** Each run's epochs but the first (warm-up), sorted. */
    private static double[] epochTimes(List<Run> runs) {
        return runs.stream().flatMapToDouble(r -> Arrays.stream(r.epochMs(), Math.min(1, r.epochMs().length - 1),
                r.epochMs().length)).sorted().toArray();
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** "75.40% +- 1.92 (77.5, 72.0, ...)": mean, sample deviation and each seed's, in percent. */
    private static String accuracies(List<Run> runs) {
        double[] a = runs.stream().mapToDouble(r -> 100 * r.accuracy()).toArray();
        double mean = Arrays.stream(a).average().orElse(Double.NaN);
        double sd = a.length < 2 ? 0 : Math.sqrt(Arrays.stream(a).map(v -> (v - mean) * (v - mean)).sum()
                / (a.length - 1));
        StringBuilder each = new StringBuilder();
        for (double v : a) {
            each.append(each.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", v));
        }
        return String.format(Locale.ROOT, "%.2f%% +- %.2f (%s)", mean, sd, each);
    }
}
