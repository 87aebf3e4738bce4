#!/usr/bin/env bash
# Regenerates kernels/ptx/<name>.ptx from every kernels/<name>.cu, then checks each PTX with ptxas for sm_80
# (A100) and sm_90 (H100) when ptxas is on the PATH. The output is deterministic for a given nvcc: the PTX
# holds no paths or dates, so PtxKernelsTest can rebuild it and compare bytes.
#
# Flags (PtxKernelsTest reads the NVCC_FLAGS line below, so keep it on one line):
#   -arch=compute_80   PTX for Ampere and newer; the driver JIT-compiles it for the GPU at hand.
#   -O3                full optimisation.
#   --fmad=false       no contraction of a*b+c into fused multiply-adds, so the arithmetic rounds exactly as the
#                      Java reference (CpuBackend, CpuMath) does; with IEEE division and square root (nvcc's
#                      default without --use_fast_math), float64 kernels that use no transcendental function
#                      agree bit for bit with the CPU backend.
# No --use_fast_math: parity with the CPU matters more than the last few percent.
set -euo pipefail

NVCC_FLAGS="-ptx -arch=compute_80 -O3 --fmad=false"

cd "$(dirname "$0")"
mkdir -p ptx
for cu in *.cu; do
    name="${cu%.cu}"
    # shellcheck disable=SC2086
    nvcc $NVCC_FLAGS -o "ptx/$name.ptx" "$cu"
    echo "kernels/ptx/$name.ptx"
done

if command -v ptxas >/dev/null 2>&1; then
    for ptx in ptx/*.ptx; do
        for arch in sm_80 sm_90; do
            ptxas -arch="$arch" -o /dev/null "$ptx"
        done
    done
    echo "ptxas: every PTX assembles for sm_80 and sm_90"
else
    echo "ptxas not on PATH: PTX not checked" >&2
fi
