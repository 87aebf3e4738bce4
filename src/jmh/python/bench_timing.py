"""Timing shared by the benchmark suite's Python peers (numpy_bench.py, torch_bench.py): rounds like JMH's
measurement iterations, and one JSON line per row for BenchRunner."""
import json
import time


def timed(fn, seconds=1.0, rounds=5):
    """Mean milliseconds per call in each of `rounds` rounds of about seconds / 2 (after one warm-up round), like
    JMH's measurement iterations, so the spread over rounds can be reported beside the mean."""
    means = []
    for r in range(rounds + 1):
        reps, start = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 2 and reps >= 3:
                break
        if r > 0:
            means.append(1000.0 * elapsed / reps)
    return means


def emit(key, means):
    """One row: its mean over the rounds, and their range."""
    print(json.dumps({"key": key, "ms": sum(means) / len(means), "min": min(means), "max": max(means)}),
          flush=True)
