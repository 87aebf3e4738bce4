// Kernels with a fault planted on purpose, for the emulator's self-test (selftest.cpp, CudaEmulatorTest): each is
// correct when plant is 0 and has its fault when plant is 1. Valid CUDA; compiled here only for the emulator.
#define KERNEL extern "C" __global__ void

// out[0] = the sum of x[t] over the block's threads t, through shared memory. plant: no barrier between the
// threads' writes and thread 0's reads (a race: the result then depends on the order threads run in).
KERNEL block_sum(double* out, const double* x, int plant) {
    __shared__ double part[1024];
    part[threadIdx.x] = x[threadIdx.x];
    if (!plant) __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0;
        for (unsigned i = 0; i < blockDim.x; i++) s += part[i];
        out[0] = s;
    }
}

// out[i] = x[i] + x[i ^ 1] by a full-warp shuffle. plant: only lanes 0-15 reach the shuffle (divergence).
KERNEL pair_sum(float* out, const float* x, int plant) {
    const unsigned i = threadIdx.x;
    float v = x[i];
    if (!plant || i < 16) v += __shfl_xor_sync(0xffffffffu, v, 1);
    out[i] = v;
}

// out[i] = i for i < n, grid-stride. plant: also writes out[n], one element past the end.
KERNEL iota(int* out, long long n, int plant) {
    for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n + plant; i += gridDim.x * blockDim.x) {
        out[i] = (int)i;
    }
}

// out[t] = a value thread 0 publishes before a barrier. plant: the upper half of the block returns first.
KERNEL publish(int* out, int plant) {
    __shared__ int value;
    if (plant && threadIdx.x >= blockDim.x / 2) return;
    if (threadIdx.x == 0) value = 7;
    __syncthreads();
    out[threadIdx.x] = value;
}
