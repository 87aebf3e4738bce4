package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;

/** Placeholder replaced by the CUDA backend implementation. */
final class CudaBackend {
    private CudaBackend() {
    }

    static Backend get(int index) {
        throw new IllegalStateException("CUDA unavailable: the CUDA backend is not implemented yet");
    }
}
