package dev.backprop4j.train;

import dev.backprop4j.core.Excerpt;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.TabularEncoding;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.nn.Norm;
import dev.backprop4j.nn.Activation;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A {@link RunSpec} in a safetensors file's metadata, written into every model and checkpoint file by
 * {@code train --save}, {@code --checkpoint} and the Spark entry point, and read back by {@code evaluate},
 * {@code predict} and {@code --resume}. The model's description has three keys that any model file needs, one
 * written by PyTorch too: {@value #LAYERS} (every layer's width, "784,256,128,10"), {@value #ACTIVATION} ("relu",
 * "gelu"...) and {@value #SPLIT_SEED} (the seed of a CSV's train/test split; 42 when absent); a residual MLP adds
 * {@value #MODEL} = "resmlp" and its {@value #BLOCKS}, {@value #EXPANSION} and {@value #NORM} (layer, batch or
 * none), its layers being its
 * input width, its width and its classes ("784,256,10"); an MLP with a norm has {@value #NORM}, a model with dropout
 * {@value #DROPOUT}, a table's model {@value #TABULAR}. The run's options
 * follow under {@value #RUN}, by their command-line names ({@code backprop4j.run.batch} = "64"), with the data source
 * as {@code backprop4j.run.data-kind} and {@code backprop4j.run.data-path}.
 */
public final class RunMetadata {
    public static final String LAYERS = "backprop4j.layers";
    public static final String ACTIVATION = "backprop4j.activation";
    public static final String SPLIT_SEED = "backprop4j.split_seed";
    /** "mlp" (also when absent) or "resmlp"; a residual MLP adds its blocks, expansion and norm. */
    public static final String MODEL = "backprop4j.model";
    public static final String BLOCKS = "backprop4j.blocks";
    public static final String EXPANSION = "backprop4j.expansion";
    public static final String NORM = "backprop4j.norm";
    /** The dropout after hidden activations, when there is any. */
    public static final String DROPOUT = "backprop4j.dropout";
    /** A table's model: how its rows are encoded (data.TabularEncoding's JSON), which its input layer embeds. */
    public static final String TABULAR = "backprop4j.tabular";
    public static final String RUN = "backprop4j.run.";
    private static final String DATA_KIND = RUN + "data-kind";
    private static final String DATA_PATH = RUN + "data-path";

    private RunMetadata() {
    }

    /** The metadata describing {@code spec} (fitted to its data): the model's description and the run's options. */
    public static Map<String, String> of(RunSpec spec) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put(LAYERS, Arrays.stream(spec.sizes()).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        m.put(ACTIVATION, spec.activation().label());
        Architecture a = spec.architecture();
        m.put(MODEL, a.kind().name().toLowerCase(Locale.ROOT));
        if (a.kind() == Architecture.Kind.RESMLP) {
            m.put(BLOCKS, Integer.toString(a.blocks()));
            m.put(EXPANSION, Integer.toString(a.expansion()));
        }
        if (a.kind() == Architecture.Kind.RESMLP || a.norm() != Norm.NONE) {
            m.put(NORM, a.norm().name().toLowerCase(Locale.ROOT));
        }
        if (a.dropout() > 0) {
            m.put(DROPOUT, Double.toString(a.dropout()));
        }
        if (a.tabular() != null) {
            m.put(TABULAR, a.tabular().toJson());
        }
        m.put(SPLIT_SEED, Long.toString(spec.seed()));
        DataSource data = spec.data();
        if (data != null) {
            m.put(DATA_KIND, data.kind().name());
            if (data.path() != null) {
                m.put(DATA_PATH, data.path());
            }
            if (data.categorical() != null) {
                m.put(RUN + "categorical", data.categorical());
            }
        }
        spec.options().forEach((k, v) -> m.put(RUN + k, v)); // a DataFrame's run too, whose data is "unknown"
        m.put(RUN + "epochs", Integer.toString(spec.epochs()));
        return m;
    }

    /**
     * The run a file's metadata describes: the model always (its absence is an error naming the file and the keys a
     * model from elsewhere must add), the options when the file holds them (else the defaults, and a null
     * {@link RunSpec#data()}).
     *
     * @throws CheckpointException naming the file and the key that is missing or malformed
     */
    public static RunSpec read(Map<String, String> meta, Path file) {
        String layers = meta.get(LAYERS);
        String act = meta.get(ACTIVATION);
        if (layers == null || act == null) {
            throw new CheckpointException(file + ": no model description in its metadata; a model file needs "
                    + LAYERS + " (every layer's width, e.g. 784,256,128,10) and " + ACTIVATION + " (e.g. relu)");
        }
        String key = LAYERS;
        try {
            int[] sizes = Architecture.parseSizes(layers, LAYERS);
            RunSpec.Builder b = RunSpec.builder().sizes(sizes);
            key = MODEL;
            String model = meta.getOrDefault(MODEL, "mlp");
            if (model.equals("resmlp")) {
                if (sizes.length != 3) {
                    throw new IllegalArgumentException("a resmlp's " + LAYERS + " are its input width, width and "
                            + "classes");
                }
                key = BLOCKS;
                int blocks = Integer.parseInt(String.valueOf(meta.get(BLOCKS)));
                key = EXPANSION;
                int expansion = Integer.parseInt(String.valueOf(meta.get(EXPANSION)));
                key = NORM;
                Norm norm = Norm.valueOf(String.valueOf(meta.get(NORM)).toUpperCase(Locale.ROOT));
                b.architecture(Architecture.resMlp(sizes[1], blocks, expansion, norm));
            } else if (!model.equals("mlp")) {
                throw new IllegalArgumentException("expected mlp or resmlp");
            } else if (meta.containsKey(NORM)) {
                key = NORM;
                b.architecture(b.build().architecture().withNorm(Norm.valueOf(meta.get(NORM).toUpperCase(Locale.ROOT))));
            }
            if (meta.containsKey(DROPOUT)) {
                key = DROPOUT;
                b.architecture(b.build().architecture().withDropout(Double.parseDouble(meta.get(DROPOUT))));
            }
            if (meta.containsKey(TABULAR)) {
                key = TABULAR;
                b.architecture(b.build().architecture().withTabular(TabularEncoding.fromJson(meta.get(TABULAR),
                        file)));
            }
            key = ACTIVATION;
            b.activation(Activation.parse(act));
            key = SPLIT_SEED;
            b.seed(meta.containsKey(SPLIT_SEED) ? Long.parseLong(meta.get(SPLIT_SEED)) : RunSpec.DEFAULT_SEED);
            b.data(null);
            if (meta.containsKey(DATA_KIND)) {
                key = DATA_KIND;
                b.data(new DataSource(DataSource.Kind.valueOf(meta.get(DATA_KIND)), meta.get(DATA_PATH),
                        Integer.parseInt(meta.getOrDefault(RUN + "label-column", "-1")), meta.get(RUN + "categorical")));
            }
            if (meta.containsKey(RUN + "lr")) { // the run's options: every file since they were kept
                TrainingPlan plan = TrainingPlan.NONE;
                for (String option : new String[] {"optimizer", "lr", "momentum", "weight-decay", "schedule", "batch",
                    "epochs", "limit", "label-smoothing", "accumulate", "val-fraction", "patience", "warmup", "decay",
                    "precision"}) {
                    key = RUN + option;
                    if (meta.containsKey(key)) {
                        TrainingPlan changed = plan.with(option, meta.get(key));
                        if (changed != null) {
                            plan = changed;
                        } else {
                            set(b, option, meta.get(key));
                        }
                    }
                }
                b.plan(plan);
            }
            return b.build();
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": metadata " + key + " = '" + Excerpt.of(meta.get(key))
                    + "' is malformed (" + Excerpt.of(e.getMessage()) + ")");
        }
    }

    /** Sets a run option from its command-line name and text, as {@link #of} writes it. */
    private static void set(RunSpec.Builder b, String name, String text) {
        switch (name) {
            case "optimizer" -> b.optimizer(RunSpec.OptimizerKind.valueOf(text.toUpperCase(Locale.ROOT)));
            case "schedule" -> b.schedule(RunSpec.Schedule.valueOf(text.toUpperCase(Locale.ROOT)));
            case "lr" -> b.lr(Double.parseDouble(text));
            case "momentum" -> b.momentum(Double.parseDouble(text));
            case "weight-decay" -> b.weightDecay(Double.parseDouble(text));
            case "batch" -> b.batch(Integer.parseInt(text));
            case "epochs" -> b.epochs(Integer.parseInt(text));
            case "limit" -> b.limit(text.equals("none") ? 0 : Integer.parseInt(text));
            default -> throw new IllegalArgumentException("unknown option " + name);
        }
    }
}
