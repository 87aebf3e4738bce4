package dev.backprop4j.ops;

import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Backends;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** x copied to another device (x itself when already there). Backward: g copied back to x's device. */
public final class ToDevice {
    private ToDevice() {
    }

    public static Tensor apply(Tensor x, Device device) {
        OpSupport.open("to", x);
        if (x.device().equals(device)) {
            return x;
        }
        Tensor out = Tensor.empty(x.shape(), x.dtype(), device);
        Backends.transfer(x.buffer(), out.buffer());
        return Tape.record("to_" + device, out, g -> new Tensor[]{g.to(x.device())}, x);
    }
}
