"""The tabular benchmark's PyTorch side: trains, in float32 on the CPU, the model that
dev.backprop4j.bench.TabularBench trained, written with torch.nn, from the initial weights, on the encoded rows and
in the batch order it wrote to the safetensors file named by the one argument, with torch.optim.AdamW and the same
cosine schedule (the rate of step t, from 0, is lr (1 + cos(pi t / T)) / 2 over T steps, set before each step).
Prints one JSON line: {"accuracy": test accuracy, "epoch_ms": [milliseconds of each epoch]}.
"""
import ast
import json
import math
import sys
import time

import torch
import torch.nn as nn
from safetensors import safe_open


class TabularInput(nn.Module):
    """The numeric columns as they are, then one embedding per categorical column's code (backprop4j's TabularInput)."""

    def __init__(self, numeric, cardinalities):
        super().__init__()
        self.numeric = numeric
        width = lambda n: max(1, min(32, round(1.6 * n ** 0.56)))
        self.embeddings = nn.ModuleList(nn.Embedding(n, width(n)) for n in cardinalities)

    def forward(self, x):
        parts = [x[:, :self.numeric]] + [e(x[:, self.numeric + i].long()) for i, e in enumerate(self.embeddings)]
        return torch.cat(parts, 1)


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def activation(label):
    return {"relu": nn.ReLU, "gelu_exact": nn.GELU, "gelu": lambda: nn.GELU(approximate="tanh"),
            "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[label]()


def model(meta):
    numeric = int(meta["numeric"])
    cards = ast.literal_eval(meta["cardinalities"])
    tab = TabularInput(numeric, cards)
    width_in = numeric + sum(e.embedding_dim for e in tab.embeddings)
    classes = int(meta["classes"])
    hidden = ast.literal_eval(meta["hidden"])
    layers = [tab]
    if meta["model"] == "mlp":
        sizes = [width_in] + hidden + [classes]
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                layers.append(activation(meta["activation"]))
    else:  # resmlp with batch norm (backprop4j's ResMlp, Norm.BATCH)
        w, inner = hidden[0], hidden[0] * int(meta["expansion"])
        layers.append(nn.Linear(width_in, w))
        for _ in range(int(meta["blocks"])):
            layers.append(Residual(nn.Sequential(nn.BatchNorm1d(w), nn.Linear(w, inner), activation(meta["activation"]),
                                                 nn.Linear(inner, w))))
        layers += [nn.BatchNorm1d(w), nn.Linear(w, classes)]
    return nn.Sequential(*layers)


def main(path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    net = model(meta)
    state = {k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}
    state = {k: v.long() if k.endswith("num_batches_tracked") else v for k, v in state.items()}
    net.load_state_dict(state, strict=True)
    x, y = t["train_x"], t["train_y"].long()
    order = t["order"].long()
    batch, lr = int(meta["batch"]), float(meta["lr"])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=float(meta["weight_decay"]))
    loss_fn = nn.CrossEntropyLoss()
    epochs, n = order.shape
    per_epoch = (n + batch - 1) // batch
    total = epochs * per_epoch
    step, epoch_ms = 0, []
    for e in range(epochs):
        start = time.perf_counter()
        net.train()
        seen = torch.zeros(())
        for b in range(per_epoch):
            idx = order[e, b * batch:(b + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = lr * (1 + math.cos(math.pi * step / total)) / 2
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
            seen += loss.detach()  # the running loss, read once per epoch as backprop4j's trainer does
            step += 1
        seen.item()
        epoch_ms.append(1000 * (time.perf_counter() - start))
    net.eval()
    with torch.no_grad():
        accuracy = (net(t["test_x"]).argmax(1) == t["test_y"].long()).float().mean().item()
    print(json.dumps({"accuracy": accuracy, "epoch_ms": epoch_ms}))


if __name__ == "__main__":
    main(sys.argv[1])
