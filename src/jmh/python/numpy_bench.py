"""The benchmark suite's work in NumPy (float32), for side-by-side ratios.

Run by dev.backprop4j.bench.BenchRunner in the same session as the JMH benchmarks; prints one JSON
object per line: {"key": ..., "ms": mean milliseconds per operation, "min"/"max": the range over five rounds}.
Keys match BenchRunner's rows; first a {"about": ...} line with the versions.
"""
import json
import sys

import numpy as np

from bench_timing import emit, timed

C = np.float32(np.sqrt(2.0 / np.pi))


def activations():
    fwd = {
        "relu": lambda x: np.maximum(x, 0),
        "leaky_relu": lambda x: np.where(x > 0, x, np.float32(0.01) * x),
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "gelu": lambda x: np.float32(0.5) * x * (1 + np.tanh(C * (x + np.float32(0.044715) * x * x * x))),
    }

    def gelu_grad(x, y, dy):
        u = C * (x + np.float32(0.044715) * x * x * x)
        t = np.tanh(u)
        return dy * (np.float32(0.5) * (1 + t) + np.float32(0.5) * x * (1 - t * t) * C * (1 + np.float32(3 * 0.044715) * x * x))

    bwd = {
        "relu": lambda x, y, dy: dy * (x > 0),
        "leaky_relu": lambda x, y, dy: np.where(x > 0, dy, np.float32(0.01) * dy),
        "sigmoid": lambda x, y, dy: dy * y * (1 - y),
        "tanh": lambda x, y, dy: dy * (1 - y * y),
        "gelu": gelu_grad,
    }
    rng = np.random.default_rng(1)
    for size in (1 << 20, 1 << 24):
        x = rng.standard_normal(size, dtype=np.float32)
        dy = rng.standard_normal(size, dtype=np.float32)
        for op in fwd:
            y = fwd[op](x)
            emit(f"activation {op} forward {size}", timed(lambda: fwd[op](x)))
            emit(f"activation {op} backward {size}", timed(lambda: bwd[op](x, y, dy)))


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = float(np.mean(np.log(s[:, 0]) - shifted[rows, labels]))
    grad = e / s
    grad[rows, labels] -= 1
    grad /= len(labels)
    return loss, grad


def softmax_ce():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4096, 1000), dtype=np.float32)
    labels = (np.arange(4096) * 31) % 1000
    emit("softmax_cross_entropy", timed(lambda: cross_entropy(logits, labels)))


def training_step(name, sizes, batch):
    rng = np.random.default_rng(1)
    ws = [(rng.uniform(-1, 1, (o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, dtype=np.float32) for o in sizes[1:]]
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    labels = np.arange(batch) % sizes[-1]
    lr = np.float32(0.01)

    def step():
        acts, pre = [x], []
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = h @ w.T + b
            pre.append(z)
            h = np.maximum(z, 0) if i < len(ws) - 1 else z
            acts.append(h)
        _, g = cross_entropy(h, labels)
        for i in reversed(range(len(ws))):
            if i < len(ws) - 1:
                g = g * (pre[i] > 0)
            dw = g.T @ acts[i]
            db = g.sum(axis=0)
            if i > 0:
                g = g @ ws[i]
            ws[i] -= lr * dw
            bs[i] -= lr * db

    emit(f"training_step {name}", timed(step))


def blas():
    """The BLAS NumPy was built with, e.g. "scipy-openblas 0.3.31", where NumPy says."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:
        return "BLAS unknown"


def main():
    print(json.dumps({"about": f"NumPy {np.__version__} ({blas()})"}), flush=True)
    for n in (256, 512, 1024, 2048):
        a = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
        b = np.random.default_rng(2).standard_normal((n, n), dtype=np.float32)
        emit(f"matmul {n}", timed(lambda: a @ b))
    activations()
    softmax_ce()
    training_step("mnist", [784, 256, 128, 10], 64)
    training_step("wide", [1024, 1024, 1024, 1024, 10], 256)


if __name__ == "__main__":
    sys.exit(main())
