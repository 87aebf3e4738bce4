package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.ops.Activations;
import dev.backprop4j.ops.Add;
import dev.backprop4j.ops.ArgMax;
import dev.backprop4j.ops.Cast;
import dev.backprop4j.ops.Concat;
import dev.backprop4j.ops.Div;
import dev.backprop4j.ops.Elementary;
import dev.backprop4j.ops.Expand;
import dev.backprop4j.ops.Gather;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.ops.MatMul;
import dev.backprop4j.ops.Max;
import dev.backprop4j.ops.Mul;
import dev.backprop4j.ops.Narrow;
import dev.backprop4j.ops.Reshape;
import dev.backprop4j.ops.Softmax;
import dev.backprop4j.ops.Sub;
import dev.backprop4j.ops.Sum;
import dev.backprop4j.ops.ToDevice;
import dev.backprop4j.ops.Transpose;

/**
 * The ops of a {@link Tensor} as methods ({@code x.add(y).relu()}): each is one line that calls its op class in
 * {@code dev.backprop4j.ops}, where the forward and the backward rule stand side by side. The deliberate import
 * cycle of the house runs through here: ops take and return tensors, and tensors offer the ops as methods, as
 * PyTorch's do. Nothing else in this package imports an op.
 */
abstract class TensorOps extends TensorFactories {

    TensorOps() {
    }

    private Tensor self() {
        return (Tensor) this;
    }

    // ---- elementwise arithmetic (broadcasting) ------------------------------------------------------

    public Tensor add(Tensor other) {
        return Add.apply(self(), other);
    }

    public Tensor sub(Tensor other) {
        return Sub.apply(self(), other);
    }

    public Tensor mul(Tensor other) {
        return Mul.apply(self(), other);
    }

    public Tensor div(Tensor other) {
        return Div.apply(self(), other);
    }

    public Tensor add(double s) {
        return Elementary.add(self(), s);
    }

    public Tensor sub(double s) {
        return Elementary.add(self(), -s);
    }

    public Tensor mul(double s) {
        return Elementary.mul(self(), s);
    }

    public Tensor div(double s) {
        return Elementary.mul(self(), 1.0 / s);
    }

    /** s - self(). */
    public Tensor rsub(double s) {
        return neg().add(s);
    }

    /** s / self(). */
    public Tensor rdiv(double s) {
        return Elementary.rdiv(self(), s);
    }

    public Tensor neg() {
        return Elementary.neg(self());
    }

    public Tensor pow(double exponent) {
        return Elementary.pow(self(), exponent);
    }

    public Tensor square() {
        return pow(2);
    }

    public Tensor exp() {
        return Elementary.exp(self());
    }

    public Tensor log() {
        return Elementary.log(self());
    }

    public Tensor sqrt() {
        return Elementary.sqrt(self());
    }

    public Tensor abs() {
        return Elementary.abs(self());
    }

    public Tensor clamp(double min, double max) {
        return Elementary.clamp(self(), min, max);
    }

    // ---- activations ----------------------------------------------------------------------------------

    public Tensor relu() {
        return Activations.relu(self());
    }

    public Tensor leakyRelu(double negativeSlope) {
        return Activations.leakyRelu(self(), negativeSlope);
    }

    public Tensor sigmoid() {
        return Activations.sigmoid(self());
    }

    public Tensor tanh() {
        return Activations.tanh(self());
    }

    /** GELU, tanh approximation. */
    public Tensor gelu() {
        return Activations.gelu(self());
    }

    /** GELU, exact (erf) form, as PyTorch's default. */
    public Tensor geluExact() {
        return Activations.geluExact(self());
    }

    /** ln(1 + e^x). */
    public Tensor softplus() {
        return Activations.softplus(self());
    }

    public Tensor softmax(int axis) {
        return Softmax.apply(self(), axis, false);
    }

    public Tensor logSoftmax(int axis) {
        return Softmax.apply(self(), axis, true);
    }

    // ---- linear algebra and shape -----------------------------------------------------------------------

    /** [m,k] @ [k,n], or batched [b,m,k] @ [b,k,n] (either side may be 2-D and is shared over the batch). */
    public Tensor matmul(Tensor other) {
        return MatMul.apply(self(), other);
    }

    /** Swaps the last two dimensions (the matrix transpose of a 2-D tensor). */
    public Tensor transpose() {
        return Transpose.apply(self());
    }

    /** Same data, new shape (one dimension may be -1 and is inferred). */
    public Tensor reshape(int... dims) {
        return Reshape.apply(self(), dims);
    }

    /** Alias of {@link #reshape}: storage is always contiguous, so every reshape is a view. */
    public Tensor view(int... dims) {
        return reshape(dims);
    }

    /** [d0, d1, ...] to [d0, d1*...]. */
    public Tensor flatten() {
        return self().rank() <= 1 ? reshape((int) self().size()) : reshape(self().dim(0), self().shape().inner(0));
    }

    /** The entries start..start+length-1 along axis. */
    public Tensor narrow(int axis, int start, int length) {
        return Narrow.apply(self(), axis, start, length);
    }

    /** Rows [from, to) along the first axis: a batch. */
    public Tensor slice(int from, int to) {
        return narrow(0, from, to - from);
    }

    /** out[r] = self()[r, index[r]] for a [rows, cols] tensor and int32 [rows] indices. */
    public Tensor gather(Tensor index) {
        return Gather.apply(self(), index);
    }

    /** The tensors joined along {@code axis}, as torch.cat: one dtype and device, every other dimension equal. */
    public static Tensor cat(java.util.List<Tensor> tensors, int axis) {
        return Concat.apply(tensors, axis);
    }

    /** This tensor repeated along size-1 (or missing) leading dimensions to {@code target}. */
    public Tensor expand(Shape target) {
        return Expand.apply(self(), target);
    }

    // ---- reductions --------------------------------------------------------------------------------------

    /** Sum of all elements (rank 0). */
    public Tensor sum() {
        return Sum.apply(self(), allAxes(), false);
    }

    public Tensor sum(int axis) {
        return Sum.apply(self(), new int[]{axis}, false);
    }

    public Tensor sum(int[] axes, boolean keepDim) {
        return Sum.apply(self(), axes, keepDim);
    }

    public Tensor mean() {
        return sum().div(self().size());
    }

    public Tensor mean(int axis) {
        return mean(new int[]{axis}, false);
    }

    public Tensor mean(int[] axes, boolean keepDim) {
        long n = 1;
        for (int a : axes) {
            n *= self().dim(a);
        }
        return sum(axes, keepDim).div(n);
    }

    public Tensor max() {
        return Max.apply(self(), allAxes(), false);
    }

    public Tensor max(int axis) {
        return Max.apply(self(), new int[]{axis}, false);
    }

    public Tensor max(int[] axes, boolean keepDim) {
        return Max.apply(self(), axes, keepDim);
    }

    /** Index of the largest entry along axis (int32; not differentiable). */
    public Tensor argmax(int axis) {
        return ArgMax.apply(self(), axis);
    }

    private int[] allAxes() {
        int[] a = new int[self().rank()];
        for (int i = 0; i < a.length; i++) {
            a[i] = i;
        }
        return a;
    }

    // ---- losses -------------------------------------------------------------------------------------------

    /** Mean softmax cross-entropy of these [rows, classes] logits against int32 labels [rows]. */
    public Tensor crossEntropy(Tensor labels) {
        return Losses.crossEntropy(self(), labels);
    }

    // ---- moves ---------------------------------------------------------------------------------------------

    /** This tensor on {@code device}; differentiable (the gradient goes back to self() device). Returns self() tensor itself when it is already there, as PyTorch's {@code to} does. */
    public Tensor to(Device device) {
        return ToDevice.apply(self(), device);
    }

    /** This tensor as {@code dtype}; differentiable for float types. Returns self() tensor itself when it already has that dtype. */
    public Tensor to(DType dtype) {
        return Cast.apply(self(), dtype);
    }

}
