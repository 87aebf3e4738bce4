package dev.backprop4j.spark;

import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;

/**
 * The Params of {@link MlpClassifier} and {@link MlpRegressor}: the {@code train} command's options under Spark's
 * names ({@code lr} is {@code --lr}, {@code batchSize} {@code --batch}, {@code architecture} {@code --model}), with
 * the same defaults, parsed and checked by the same parser when {@code fit} starts, and the Spark stage's {@code
 * numWorkers}, {@code device} and {@code checkpointPath}. Unset Params without a default take the option's default
 * (an mlp's or a resmlp's). Each has Spark's three methods: the Param ({@code lr()}), a setter ({@code setLr}) and a
 * getter ({@code getLr}); the Param objects are the estimator's own ({@link RunParams}).
 *
 * @param <E> the estimator, which the setters return
 */
public interface MlpParams<E extends MlpParams<E>> extends Params {

    /** This estimator's Param objects. */
    RunParams runParams();

    @SuppressWarnings("unchecked")
    private E self() {
        return (E) this;
    }

    default Param<String> architecture() {
        return runParams().architecture;
    }

    default E setArchitecture(String value) {
        set(architecture(), value);
        return self();
    }

    default String getArchitecture() {
        return getOrDefault(architecture());
    }

    default IntArrayParam layers() {
        return runParams().layers;
    }

    default E setLayers(int[] value) {
        set(layers(), value);
        return self();
    }

    default int[] getLayers() {
        return getOrDefault(layers());
    }

    default IntParam width() {
        return runParams().width;
    }

    default E setWidth(int value) {
        set(width().w(value));
        return self();
    }

    default int getWidth() {
        return (Integer) getOrDefault(width());
    }

    default IntParam blocks() {
        return runParams().blocks;
    }

    default E setBlocks(int value) {
        set(blocks().w(value));
        return self();
    }

    default int getBlocks() {
        return (Integer) getOrDefault(blocks());
    }

    default IntParam expansion() {
        return runParams().expansion;
    }

    default E setExpansion(int value) {
        set(expansion().w(value));
        return self();
    }

    default int getExpansion() {
        return (Integer) getOrDefault(expansion());
    }

    default Param<String> norm() {
        return runParams().norm;
    }

    default E setNorm(String value) {
        set(norm(), value);
        return self();
    }

    default String getNorm() {
        return getOrDefault(norm());
    }

    default DoubleParam dropout() {
        return runParams().dropout;
    }

    default E setDropout(double value) {
        set(dropout().w(value));
        return self();
    }

    default double getDropout() {
        return (Double) getOrDefault(dropout());
    }

    default Param<String> activation() {
        return runParams().activation;
    }

    default E setActivation(String value) {
        set(activation(), value);
        return self();
    }

    default String getActivation() {
        return getOrDefault(activation());
    }

    default Param<String> optimizer() {
        return runParams().optimizer;
    }

    default E setOptimizer(String value) {
        set(optimizer(), value);
        return self();
    }

    default String getOptimizer() {
        return getOrDefault(optimizer());
    }

    default DoubleParam lr() {
        return runParams().lr;
    }

    default E setLr(double value) {
        set(lr().w(value));
        return self();
    }

    default double getLr() {
        return (Double) getOrDefault(lr());
    }

    default DoubleParam momentum() {
        return runParams().momentum;
    }

    default E setMomentum(double value) {
        set(momentum().w(value));
        return self();
    }

    default double getMomentum() {
        return (Double) getOrDefault(momentum());
    }

    default DoubleParam weightDecay() {
        return runParams().weightDecay;
    }

    default E setWeightDecay(double value) {
        set(weightDecay().w(value));
        return self();
    }

    default double getWeightDecay() {
        return (Double) getOrDefault(weightDecay());
    }

    default Param<String> decay() {
        return runParams().decay;
    }

    default E setDecay(String value) {
        set(decay(), value);
        return self();
    }

    default String getDecay() {
        return getOrDefault(decay());
    }

    default Param<String> schedule() {
        return runParams().schedule;
    }

    default E setSchedule(String value) {
        set(schedule(), value);
        return self();
    }

    default String getSchedule() {
        return getOrDefault(schedule());
    }

    default IntParam warmup() {
        return runParams().warmup;
    }

    default E setWarmup(int value) {
        set(warmup().w(value));
        return self();
    }

    default int getWarmup() {
        return (Integer) getOrDefault(warmup());
    }

    default DoubleParam labelSmoothing() {
        return runParams().labelSmoothing;
    }

    default E setLabelSmoothing(double value) {
        set(labelSmoothing().w(value));
        return self();
    }

    default double getLabelSmoothing() {
        return (Double) getOrDefault(labelSmoothing());
    }

    default Param<String> precision() {
        return runParams().precision;
    }

    default E setPrecision(String value) {
        set(precision(), value);
        return self();
    }

    default String getPrecision() {
        return getOrDefault(precision());
    }

    default IntParam batchSize() {
        return runParams().batchSize;
    }

    default E setBatchSize(int value) {
        set(batchSize().w(value));
        return self();
    }

    default int getBatchSize() {
        return (Integer) getOrDefault(batchSize());
    }

    default IntParam epochs() {
        return runParams().epochs;
    }

    default E setEpochs(int value) {
        set(epochs().w(value));
        return self();
    }

    default int getEpochs() {
        return (Integer) getOrDefault(epochs());
    }

    default LongParam seed() {
        return runParams().seed;
    }

    default E setSeed(long value) {
        set(seed().w(value));
        return self();
    }

    default long getSeed() {
        return (Long) getOrDefault(seed());
    }

    default IntParam numWorkers() {
        return runParams().numWorkers;
    }

    default E setNumWorkers(int value) {
        set(numWorkers().w(value));
        return self();
    }

    default int getNumWorkers() {
        return (Integer) getOrDefault(numWorkers());
    }

    default Param<String> device() {
        return runParams().device;
    }

    default E setDevice(String value) {
        set(device(), value);
        return self();
    }

    default String getDevice() {
        return getOrDefault(device());
    }

    default Param<String> checkpointPath() {
        return runParams().checkpointPath;
    }

    default E setCheckpointPath(String value) {
        set(checkpointPath(), value);
        return self();
    }

    default String getCheckpointPath() {
        return getOrDefault(checkpointPath());
    }
}
