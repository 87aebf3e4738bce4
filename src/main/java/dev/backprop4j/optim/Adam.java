package dev.backprop4j.optim;

import dev.backprop4j.ops.Updates;
import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * Adam as PyTorch's torch.optim.Adam: g = grad + weightDecay p; m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * {@link AdamW} decouples the weight decay instead.
 */
public class Adam extends Optimizer {
    private double beta1 = 0.9;
    private double beta2 = 0.999;
    private double eps = 1e-8;
    protected double weightDecay;
    private final boolean decoupled;

    public Adam(List<Tensor> params, double lr) {
        this(params, lr, false, 0);
    }

    protected Adam(List<Tensor> params, double lr, boolean decoupled, double weightDecay) {
        super(params, lr);
        this.decoupled = decoupled;
        this.weightDecay = weightDecay;
    }

    public Adam betas(double b1, double b2) {
        if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) {
            throw new IllegalArgumentException("Adam: betas must be in [0, 1), got " + b1 + ", " + b2);
        }
        this.beta1 = b1;
        this.beta2 = b2;
        return this;
    }

    public Adam eps(double e) {
        this.eps = e;
        return this;
    }

    public Adam weightDecay(double wd) {
        this.weightDecay = wd;
        return this;
    }

    @Override
    protected void update(Tensor[] ps, Tensor[] grads, Tensor lr, Tensor steps, boolean decay) {
        Tensor[] m = new Tensor[ps.length];
        Tensor[] v = new Tensor[ps.length];
        for (int i = 0; i < ps.length; i++) {
            if (grads[i] != null) {
                Tensor[] s = state(ps[i], 2);
                m[i] = s[0];
                v[i] = s[1];
            }
        }
        Updates.adam(ps, grads, m, v, lr, steps, beta1, beta2, eps, decay ? weightDecay : 0, decoupled);
    }

    @Override
    protected List<String> stateNames() {
        return List.of("exp_avg", "exp_avg_sq");
    }
}
