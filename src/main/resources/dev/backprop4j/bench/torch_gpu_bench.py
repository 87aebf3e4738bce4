"""The GPU comparison's PyTorch half: the work of `java -jar backprop4j.jar bench-gpu`, in PyTorch.

Run by the bench-gpu command (which ships this file in its jar) in the same session as our measurements; prints
one JSON object per line: {"about": ...} first, then {"key": ..., "ms": ..., "peak_bytes": ...} per row, keys as
GpuBench's. Times are wall-clock means over repeated runs between two device synchronisations.

  --device cuda|cpu   cpu is a dry run of this script on PyTorch's CPU build: the same code paths, minus what
                      needs CUDA (TF32, graphs, memory statistics, kernel counts)
  --quick             small sizes (the dry run's and the tests')
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, seconds):
    """Mean milliseconds per call: warm-up calls, then enough calls for about `seconds`."""
    for _ in range(3):
        fn()
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    once = max(time.perf_counter() - start, 1e-6)
    reps = max(3, min(1000, int(seconds / once)))
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return 1000.0 * (time.perf_counter() - start) / reps


def emit(key, ms, peak_bytes=None, **extra):
    row = {"key": key, "ms": ms}
    if peak_bytes is not None:
        row["peak_bytes"] = peak_bytes
    row.update(extra)
    print(json.dumps(row), flush=True)


def sgemm(device, sizes, seconds):
    for n in sizes:
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        c = torch.empty(n, n, device=device)
        for tf32 in ((False, True) if device.type == "cuda" else (False,)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            emit(f"sgemm {n} {'tf32' if tf32 else 'fp32'}", timed(lambda: torch.mm(a, b, out=c), device, seconds))
        torch.backends.cuda.matmul.allow_tf32 = False


def precisions(device):
    return ("fp32", "tf32", "bf16") if device.type == "cuda" else ("fp32", "bf16")


def autocast(device, precision):
    """torch.autocast(bfloat16) for bf16 (its casts included, as in backprop4j's), else nothing; TF32 by allow_tf32."""
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def mixed_gemm(device, m, ks, seconds):
    """[m, k] @ [k, m] in each precision: keys "gemm MxMxK fp32|tf32|bf16"."""
    for k in ks:
        a = torch.randn(m, k, device=device)
        b = torch.randn(k, m, device=device)
        for precision in precisions(device):
            with torch.no_grad(), autocast(device, precision):
                emit(f"gemm {m}x{m}x{k} {precision}", timed(lambda: torch.mm(a, b), device, seconds))
    torch.backends.cuda.matmul.allow_tf32 = False


def large_step(sizes, batch, device, seconds):
    """The AdamW step (lr 1e-3) of an MLP in each precision, eager, with its peak memory: "step large P"."""
    for precision in precisions(device):
        torch.manual_seed(1)
        net = model(sizes, device)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        x = torch.randn(batch, sizes[0], device=device)
        y = torch.arange(batch, device=device) % sizes[-1]

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast(device, precision):
                loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()

        emit(f"step large {precision}", *measured(step, device, seconds))
        del net, opt
    torch.backends.cuda.matmul.allow_tf32 = False


def measured(step, device, seconds):
    """A steady step's mean milliseconds and (on CUDA) the peak memory it adds, after warm-up steps."""
    for _ in range(3):
        step()
    peak = None
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    return timed(step, device, seconds), peak


def bandwidth(device, n, seconds):
    """A device-to-device copy, then each activation forward and backward, on n float32 elements."""
    x = torch.randn(n, device=device)
    dy = torch.randn(n, device=device)
    y = torch.empty(n, device=device)
    dx = torch.empty(n, device=device)
    emit(f"copy {n}", timed(lambda: y.copy_(x), device, seconds))
    aten = torch.ops.aten
    fwd = {
        "relu": lambda: aten.clamp_min.out(x, 0, out=y),
        "leaky_relu": lambda: aten.leaky_relu.out(x, 0.01, out=y),
        "sigmoid": lambda: aten.sigmoid.out(x, out=y),
        "tanh": lambda: aten.tanh.out(x, out=y),
        "gelu": lambda: aten.gelu.out(x, approximate="tanh", out=y),
    }
    bwd = {
        "relu": lambda: aten.threshold_backward.grad_input(dy, x, 0, grad_input=dx),
        "leaky_relu": lambda: aten.leaky_relu_backward.grad_input(dy, x, 0.01, False, grad_input=dx),
        "sigmoid": lambda: aten.sigmoid_backward.grad_input(dy, y, grad_input=dx),
        "tanh": lambda: aten.tanh_backward.grad_input(dy, y, grad_input=dx),
        "gelu": lambda: aten.gelu_backward.grad_input(dy, x, approximate="tanh", grad_input=dx),
    }
    for op in fwd:
        emit(f"activation {op} forward {n}", timed(fwd[op], device, seconds))
        fwd[op]()
        emit(f"activation {op} backward {n}", timed(bwd[op], device, seconds))


def model(sizes, device):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(device)


def training_steps(name, sizes, batch, device, seconds):
    """The SGD training step (lr 0.01), eager, and on CUDA also captured as a graph (torch.cuda.graphs)."""
    torch.manual_seed(1)
    net = model(sizes, device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, sizes[0], device=device)
    y = torch.arange(batch, device=device) % sizes[-1]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    emit(f"step {name} eager", *measured(step, device, seconds))
    if device.type == "cuda":
        kernels = count_kernels(step)
        if kernels is not None:
            emit(f"kernels {name} eager", kernels)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = step()
        emit(f"step {name} graphed", timed(graph.replay, device, seconds))
        del static_loss


def count_kernels(step):
    """CUDA kernels and memory operations one eager step runs, from the profiler's device activity."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        return float(sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA))
    except Exception as e:  # the profiler is optional: say so and go on
        print(f"kernel count unavailable: {e}", file=sys.stderr)
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"about": f"PyTorch {torch.__version__}: CUDA unavailable"}), flush=True)
        return 3
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(json.dumps({"about": f"PyTorch {torch.__version__} on {gpu}"
                               + (f", CUDA {torch.version.cuda}" if device.type == "cuda" else "")}), flush=True)
    seconds = 0.05 if args.quick else 1.0
    sgemm(device, (256, 512) if args.quick else (2048, 4096, 8192), seconds)
    bandwidth(device, 1 << 16 if args.quick else 1 << 26, seconds)
    wide = 256 if args.quick else 4096
    training_steps("wide", [wide] * 5 + [10], 256 if args.quick else 4096, device, seconds)
    training_steps("mnist", [784, 256, 128, 10], 64, device, seconds)
    m = 256 if args.quick else 4096
    mixed_gemm(device, m, (64, 256) if args.quick else (256, 1024, 4096), seconds)
    large = [256] * 4 if args.quick else [4096] * 9
    large_step(large + [10], 256 if args.quick else 4096, device, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
