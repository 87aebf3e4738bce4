"""The benchmark suite's work in PyTorch (CPU build, float32), for side-by-side ratios.

Run by dev.backprop4j.bench.BenchRunner in the same session as the JMH benchmarks when `import torch` works;
prints one JSON object per line: {"key": ..., "ms": mean milliseconds per operation, "min"/"max": the range over five
rounds}, keys as BenchRunner's rows, and first a {"about": ...} line with the versions and threads. Each row does the
same work as ours: activations write into preallocated outputs (the aten .out / .grad_input overloads), the training
steps are nn.Linear + ReLU, CrossEntropyLoss and optim.SGD(lr=0.01), zero_grad to step.
"""
import json
import sys

import torch
import torch.nn as nn

from bench_timing import emit, timed

aten = torch.ops.aten


def activations():
    g = torch.Generator().manual_seed(1)
    for size in (1 << 20, 1 << 24):
        x = torch.randn(size, generator=g)
        dy = torch.randn(size, generator=g)
        y = torch.empty(size)
        dx = torch.empty(size)
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
            fwd[op]()
            emit(f"activation {op} forward {size}", timed(fwd[op]))
            emit(f"activation {op} backward {size}", timed(bwd[op]))


def softmax_ce():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4096, 1000, generator=g, requires_grad=True)
    labels = (torch.arange(4096) * 31) % 1000
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(logits, labels)
        loss.backward()
        v = loss.item()
        logits.grad = None
        return v

    emit("softmax_cross_entropy", timed(step))


def training_step(name, sizes, batch):
    torch.manual_seed(1)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, sizes[0])
    labels = torch.arange(batch) % sizes[-1]

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), labels)
        loss.backward()
        opt.step()
        return loss.item()

    emit(f"training_step {name}", timed(step))


def main():
    print(json.dumps({"about": f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
                               f"{torch.backends.cpu.get_cpu_capability()}"}), flush=True)
    for n in (256, 512, 1024, 2048):
        g = torch.Generator().manual_seed(1)
        a = torch.randn(n, n, generator=g)
        b = torch.randn(n, n, generator=g)
        c = torch.empty(n, n)
        emit(f"matmul {n}", timed(lambda: torch.mm(a, b, out=c)))
    activations()
    softmax_ce()
    training_step("mnist", [784, 256, 128, 10], 64)
    training_step("wide", [1024, 1024, 1024, 1024, 10], 256)


if __name__ == "__main__":
    with torch.no_grad():
        pass
    sys.exit(main())
