package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.ops.LayerNorm;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;

/**
 * PyTorch's {@code nn.BatchNorm1d(features, eps=1e-5, momentum=0.1)} on x [rows, features]: in training, each
 * column is normalised with the batch's mean and biased variance, y = (x - mean) / sqrt(var + eps) weight + bias,
 * and the running statistics move: running_mean = (1 - momentum) running_mean + momentum mean, running_var the same
 * with the unbiased variance, num_batches_tracked + 1; in evaluation the running statistics normalise. The state
 * dict has PyTorch's names and order: weight, bias, running_mean, running_var, num_batches_tracked (an int32 scalar
 * here, which PyTorch loads into its int64 one; its int64 files load here).
 *
 * <p>The training forward is the columns' layer norm: x transposed to [features, rows], one {@link LayerNorm} op
 * per row of that (so the backward is LayerNorm's, one kernel each way on a GPU), transposed back, scaled and
 * shifted; the running statistics are updated on the device without a host wait. In data-parallel training each
 * process normalises with its own share of the batch (as PyTorch's BatchNorm1d without SyncBatchNorm).
 */
public final class BatchNorm1d extends Module {
    private final int features;
    private final double eps;
    private final double momentum;

    /** Affine, eps 1e-5, momentum 0.1, float32 on the CPU. */
    public BatchNorm1d(int features) {
        this(features, 1e-5, 0.1, DType.FLOAT32, Device.CPU);
    }

    public BatchNorm1d(int features, double eps, double momentum, DType dtype, Device device) {
        if (features <= 0) {
            throw new IllegalArgumentException("BatchNorm1d: features must be positive, got " + features);
        }
        if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("BatchNorm1d: eps must be > 0 and momentum in [0, 1], got eps " + eps
                    + ", momentum " + momentum);
        }
        this.features = features;
        this.eps = eps;
        this.momentum = momentum;
        addParameter("weight", Tensor.ones(Shape.of(features), dtype, device));
        addParameter("bias", Tensor.zeros(Shape.of(features), dtype, device));
        addBuffer("running_mean", Tensor.zeros(Shape.of(features), dtype, device));
        addBuffer("running_var", Tensor.ones(Shape.of(features), dtype, device));
        addBuffer("num_batches_tracked", Tensor.zeros(Shape.scalar(), DType.INT32, device));
    }

    public Tensor weight() {
        return namedParameters().get("weight");
    }

    public Tensor bias() {
        return namedParameters().get("bias");
    }

    public Tensor runningMean() {
        return buffer("running_mean");
    }

    public Tensor runningVar() {
        return buffer("running_var");
    }

    /** Training batches seen (PyTorch's num_batches_tracked). */
    public Tensor batchesTracked() {
        return buffer("num_batches_tracked");
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 2 || x.dim(1) != features) {
            throw new IllegalArgumentException("BatchNorm1d: input " + x.shape() + " does not fit " + features
                    + " features (expected [rows, " + features + "])");
        }
        if (!isTraining()) {
            Tensor scale = runningVar().add(eps).sqrt().rdiv(1).mul(weight());
            return x.sub(runningMean()).mul(scale).add(bias());
        }
        int rows = x.dim(0);
        if (rows < 2) {
            throw new IllegalArgumentException("BatchNorm1d: a training batch needs more than one row per feature, "
                    + "got input " + x.shape() + " (as PyTorch)");
        }
        Tensor xhat = LayerNorm.apply(x.transpose(), null, null, eps).transpose();
        try (GradMode.Guard off = GradMode.noGrad()) {
            Tensor mean = x.mean(0);
            Tensor unbiased = x.sub(mean).square().sum(0).div(rows - 1);
            runningMean().copyFrom(runningMean().mul(1 - momentum).add(mean.mul(momentum)));
            runningVar().copyFrom(runningVar().mul(1 - momentum).add(unbiased.mul(momentum)));
            batchesTracked().copyFrom(batchesTracked().to(DType.FLOAT64).add(1).to(DType.INT32));
        }
        return xhat.mul(weight()).add(bias());
    }

    @Override
    public String toString() {
        return "BatchNorm1d(" + features + ")";
    }
}
