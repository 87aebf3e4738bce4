package dev.backprop4j.spark;

import org.apache.spark.ml.classification.ProbabilisticClassifier;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Params of the run {@link MlpClassifier} trains: the {@code train} command's options under Spark's names ({@code
 * lr} is {@code --lr}, {@code batchSize} {@code --batch}, {@code architecture} {@code --model}), with the same
 * defaults, parsed and checked by the same parser when {@code fit} starts. Unset Params without a default take the
 * option's default (an mlp's or a resmlp's). Each has Spark's three methods: the Param ({@code lr()}), a setter
 * ({@code setLr}) and a getter ({@code getLr}).
 *
 * @param <E> the estimator, which the setters return
 */
public abstract class MlpParams<E extends MlpParams<E>>
        extends ProbabilisticClassifier<Vector, E, MlpClassificationModel> {
    private static final long serialVersionUID = 1L;

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final String uidPrefix;

    private final Param<String> architecture = new Param<>(this, "architecture",
            "mlp (Linear layers of the widths in layers) or resmlp (pre-norm residual blocks: width, blocks, "
            + "expansion)");
    private final IntArrayParam layers = new IntArrayParam(this, "layers", "An mlp's hidden layer widths");
    private final IntParam width = new IntParam(this, "width", "A resmlp's width (default 256)");
    private final IntParam blocks = new IntParam(this, "blocks", "A resmlp's residual blocks (default 4)");
    private final IntParam expansion = new IntParam(this, "expansion",
            "A resmlp block's inner width as a multiple of width (default 4)");
    private final Param<String> norm = new Param<>(this, "norm",
            "layer or none (default: layer for a resmlp, none for an mlp; batch norm is refused: each worker "
            + "would normalise its own share of the batch)");
    private final DoubleParam dropout = new DoubleParam(this, "dropout",
            "Dropout probability after each hidden activation");
    private final Param<String> activation = new Param<>(this, "activation",
            "relu, leaky_relu, sigmoid, tanh, gelu or gelu_exact (default: relu for an mlp, gelu for a resmlp)");
    private final Param<String> optimizer = new Param<>(this, "optimizer", "sgd (with momentum), adam or adamw");
    private final DoubleParam lr = new DoubleParam(this, "lr", "Learning rate");
    private final DoubleParam momentum = new DoubleParam(this, "momentum", "SGD's momentum");
    private final DoubleParam weightDecay = new DoubleParam(this, "weightDecay",
            "Weight decay (default 0, for adamw 0.01 as PyTorch's)");
    private final Param<String> decay = new Param<>(this, "decay",
            "Which parameters weightDecay applies to: all, or matrices (not biases and norms)");
    private final Param<String> schedule = new Param<>(this, "schedule",
            "constant, or cosine (from lr down to 0 over the run)");
    private final IntParam warmup = new IntParam(this, "warmup",
            "Steps of linear learning-rate warmup before the schedule");
    private final DoubleParam labelSmoothing = new DoubleParam(this, "labelSmoothing",
            "Cross-entropy label smoothing, as PyTorch's label_smoothing");
    private final Param<String> precision = new Param<>(this, "precision",
            "fp32, tf32 or bf16 (autocast: bfloat16 matrix-product inputs; float32 weights, gradients and "
            + "accumulation)");
    private final IntParam batchSize = new IntParam(this, "batchSize", "The global batch, over all workers");
    private final IntParam epochs = new IntParam(this, "epochs", "Epochs");
    private final LongParam seed = new LongParam(this, "seed", "Seed of initialisation and shuffling");

    MlpParams(SparkUid.Handed uid, String uidPrefix) {
        this.uidPrefix = uidPrefix;
        uid();
        SparkUid.done();
        setDefault(architecture, "mlp");
        setDefault(layers, new int[] {256, 128});
        setDefault(dropout, 0.0);
        setDefault(optimizer, "adam");
        setDefault(lr, 1e-3);
        setDefault(momentum, 0.9);
        setDefault(decay, "all");
        setDefault(schedule, "cosine");
        setDefault(warmup, 0);
        setDefault(labelSmoothing, 0.0);
        setDefault(precision, "fp32");
        setDefault(batchSize, 64);
        setDefault(epochs, 10);
        setDefault(seed, 42L);
    }

    @Override
    public final String uid() {
        if (uid == null) {
            uid = SparkUid.take(uidPrefix);
        }
        return uid;
    }

    @SuppressWarnings("unchecked")
    final E self() {
        return (E) this;
    }

    /** The Params by the {@code train} command's option names, which {@link MlpClassifier} parses as those. */
    Map<Param<?>, String> options() {
        Map<Param<?>, String> o = new LinkedHashMap<>();
        o.put(architecture, "--model");
        o.put(layers, "--layers");
        o.put(width, "--width");
        o.put(blocks, "--blocks");
        o.put(expansion, "--expansion");
        o.put(norm, "--norm");
        o.put(dropout, "--dropout");
        o.put(activation, "--activation");
        o.put(optimizer, "--optimizer");
        o.put(lr, "--lr");
        o.put(momentum, "--momentum");
        o.put(weightDecay, "--weight-decay");
        o.put(decay, "--decay");
        o.put(schedule, "--schedule");
        o.put(warmup, "--warmup");
        o.put(labelSmoothing, "--label-smoothing");
        o.put(precision, "--precision");
        o.put(batchSize, "--batch");
        o.put(epochs, "--epochs");
        o.put(seed, "--seed");
        return o;
    }

    public final Param<String> architecture() {
        return architecture;
    }

    public final E setArchitecture(String value) {
        set(architecture, value);
        return self();
    }

    public final String getArchitecture() {
        return getOrDefault(architecture);
    }

    public final IntArrayParam layers() {
        return layers;
    }

    public final E setLayers(int[] value) {
        set(layers, value);
        return self();
    }

    public final int[] getLayers() {
        return getOrDefault(layers);
    }

    public final IntParam width() {
        return width;
    }

    public final E setWidth(int value) {
        set(width.w(value));
        return self();
    }

    public final int getWidth() {
        return (Integer) getOrDefault(width);
    }

    public final IntParam blocks() {
        return blocks;
    }

    public final E setBlocks(int value) {
        set(blocks.w(value));
        return self();
    }

    public final int getBlocks() {
        return (Integer) getOrDefault(blocks);
    }

    public final IntParam expansion() {
        return expansion;
    }

    public final E setExpansion(int value) {
        set(expansion.w(value));
        return self();
    }

    public final int getExpansion() {
        return (Integer) getOrDefault(expansion);
    }

    public final Param<String> norm() {
        return norm;
    }

    public final E setNorm(String value) {
        set(norm, value);
        return self();
    }

    public final String getNorm() {
        return getOrDefault(norm);
    }

    public final DoubleParam dropout() {
        return dropout;
    }

    public final E setDropout(double value) {
        set(dropout.w(value));
        return self();
    }

    public final double getDropout() {
        return (Double) getOrDefault(dropout);
    }

    public final Param<String> activation() {
        return activation;
    }

    public final E setActivation(String value) {
        set(activation, value);
        return self();
    }

    public final String getActivation() {
        return getOrDefault(activation);
    }

    public final Param<String> optimizer() {
        return optimizer;
    }

    public final E setOptimizer(String value) {
        set(optimizer, value);
        return self();
    }

    public final String getOptimizer() {
        return getOrDefault(optimizer);
    }

    public final DoubleParam lr() {
        return lr;
    }

    public final E setLr(double value) {
        set(lr.w(value));
        return self();
    }

    public final double getLr() {
        return (Double) getOrDefault(lr);
    }

    public final DoubleParam momentum() {
        return momentum;
    }

    public final E setMomentum(double value) {
        set(momentum.w(value));
        return self();
    }

    public final double getMomentum() {
        return (Double) getOrDefault(momentum);
    }

    public final DoubleParam weightDecay() {
        return weightDecay;
    }

    public final E setWeightDecay(double value) {
        set(weightDecay.w(value));
        return self();
    }

    public final double getWeightDecay() {
        return (Double) getOrDefault(weightDecay);
    }

    public final Param<String> decay() {
        return decay;
    }

    public final E setDecay(String value) {
        set(decay, value);
        return self();
    }

    public final String getDecay() {
        return getOrDefault(decay);
    }

    public final Param<String> schedule() {
        return schedule;
    }

    public final E setSchedule(String value) {
        set(schedule, value);
        return self();
    }

    public final String getSchedule() {
        return getOrDefault(schedule);
    }

    public final IntParam warmup() {
        return warmup;
    }

    public final E setWarmup(int value) {
        set(warmup.w(value));
        return self();
    }

    public final int getWarmup() {
        return (Integer) getOrDefault(warmup);
    }

    public final DoubleParam labelSmoothing() {
        return labelSmoothing;
    }

    public final E setLabelSmoothing(double value) {
        set(labelSmoothing.w(value));
        return self();
    }

    public final double getLabelSmoothing() {
        return (Double) getOrDefault(labelSmoothing);
    }

    public final Param<String> precision() {
        return precision;
    }

    public final E setPrecision(String value) {
        set(precision, value);
        return self();
    }

    public final String getPrecision() {
        return getOrDefault(precision);
    }

    public final IntParam batchSize() {
        return batchSize;
    }

    public final E setBatchSize(int value) {
        set(batchSize.w(value));
        return self();
    }

    public final int getBatchSize() {
        return (Integer) getOrDefault(batchSize);
    }

    public final IntParam epochs() {
        return epochs;
    }

    public final E setEpochs(int value) {
        set(epochs.w(value));
        return self();
    }

    public final int getEpochs() {
        return (Integer) getOrDefault(epochs);
    }

    public final LongParam seed() {
        return seed;
    }

    public final E setSeed(long value) {
        set(seed.w(value));
        return self();
    }

    public final long getSeed() {
        return (Long) getOrDefault(seed);
    }

}
