package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * Inverted dropout: in training, y = x m / (1 - p) with m ~ Bernoulli(1 - p) drawn from a seeded
 * generator; in evaluation, y = x. Backward: dx = g m / (1 - p) (through the multiply).
 *
 * <p>The masks are drawn on the device from the generator's seed and a counter kept on the device, which every
 * draw advances there: the forward never waits, and a CUDA graph that captured it draws a new mask on every replay.
 * {@link #generator()} reads the counter back into the generator (for checkpoints); a generator restored or moved
 * on the host is copied to the device at the next forward.
 */
public final class Dropout extends Module {
    private final double p;
    private final Generator gen;
    /** The next counter of the generator, on the device of the last input. */
    private Tensor counter;
    /** The generator position the counter was last set from or read into. */
    private long mirrored = -1;

    /** Generators that draw some open Dropout's masks (by identity; weakly held). */
    private static final Set<Generator> BOUND = Collections.newSetFromMap(new WeakHashMap<>());

    /**
     * Dropout with probability {@code p} whose masks come from {@code gen}, which no other open Dropout may use:
     * each keeps its own counter of the generator on the device, so two sharing one would draw the same masks.
     */
    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("Dropout: p must be in [0, 1), got " + p);
        }
        synchronized (BOUND) {
            if (!BOUND.add(gen)) {
                throw new IllegalArgumentException("Dropout: the generator (seed " + gen.seed() + ") already draws "
                        + "the masks of another Dropout, and both would draw the same masks; give each Dropout a "
                        + "Generator of its own");
            }
        }
        this.p = p;
        this.gen = gen;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) {
            return x;
        }
        Tensor mask = Tensor.random(gen.seed(), counter(x.device()), Distribution.BERNOULLI, 1 - p, 0, x.shape(),
                x.dtype()).mul(1 / (1 - p));
        return x.mul(mask);
    }

    /** The counter on {@code device}, holding the generator's position when that changed on the host. */
    private Tensor counter(Device device) {
        if (counter != null && !counter.device().equals(device)) {
            generator(); // the position reached on the old device
            counter.close();
            counter = null;
        }
        if (counter == null) {
            counter = Tensor.zeros(Shape.of(1), DType.FLOAT64, device);
            Scope.detach(counter);
            mirrored = -1;
        }
        if (gen.position() != mirrored) {
            counter.copyFrom(new double[] {gen.position()});
            mirrored = gen.position();
        }
        return counter;
    }

    /** The generator, its position read from the device (a wait) when masks were drawn there. */
    @Override
    protected Generator generator() {
        if (counter != null) {
            long position = (long) counter.item();
            gen.restore(gen.seed(), position);
            mirrored = position;
        }
        return gen;
    }

    @Override
    public void close() {
        synchronized (BOUND) {
            BOUND.remove(gen);
        }
        super.close();
        if (counter != null) {
            counter.close();
            counter = null;
        }
    }

    @Override
    public String toString() {
        return "Dropout(" + p + ")";
    }
}
