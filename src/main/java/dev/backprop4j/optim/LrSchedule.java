package dev.backprop4j.optim;

/** A learning rate as a function of the step (counting from 0); apply with {@code opt.setLr(s.at(step))}. */
@FunctionalInterface
public interface LrSchedule {
    double at(long step);

    /** base for every step. */
    static LrSchedule constant(double base) {
        return step -> base;
    }

    /**
     * Linear warmup to base over warmupSteps, then base: base (t + 1) / W for step t &lt; W (Hugging Face's
     * {@code get_constant_schedule_with_warmup}, shifted as {@link #cosineWithWarmup}'s warmup is), base after.
     */
    static LrSchedule constantWithWarmup(double base, long warmupSteps) {
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("constant schedule: warmupSteps must be >= 0, got " + warmupSteps);
        }
        return step -> step < warmupSteps ? base * (step + 1) / warmupSteps : base;
    }

    /** base gamma^(step / stepSize), as torch.optim.lr_scheduler.StepLR. */
    static LrSchedule step(double base, long stepSize, double gamma) {
        if (stepSize <= 0) {
            throw new IllegalArgumentException("step schedule: stepSize must be > 0, got " + stepSize);
        }
        return step -> base * Math.pow(gamma, step / stepSize);
    }

    /**
     * Linear warmup to base over warmupSteps, then cosine decay from base to minLr at totalSteps (and minLr after).
     * Exactly, for step t (from 0) and W = warmupSteps, T = totalSteps: base (t + 1) / W for t &lt; W (the first step
     * already at base / W, the W-th at base, never 0); minLr + (base - minLr) (1 + cos(pi (t - W) / (T - W))) / 2 for
     * W &lt;= t &lt; T; minLr for t &gt;= T. In PyTorch: {@code LambdaLR(opt, lambda t: (t + 1) / W if t < W else ...)}
     * for the warmup (not {@code LinearLR(start_factor=0)}, which starts at 0) and
     * {@code CosineAnnealingLR(opt, T_max=T - W, eta_min=minLr)} after it; with W = 0, CosineAnnealingLR alone.
     */
    static LrSchedule cosineWithWarmup(double base, long warmupSteps, long totalSteps, double minLr) {
        if (warmupSteps < 0 || totalSteps <= warmupSteps) {
            throw new IllegalArgumentException("cosine schedule: need 0 <= warmupSteps < totalSteps, got "
                    + warmupSteps + " and " + totalSteps);
        }
        return step -> {
            if (step < warmupSteps) {
                return base * (step + 1) / warmupSteps;
            }
            if (step >= totalSteps) {
                return minLr;
            }
            double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
            return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * progress));
        };
    }
}
