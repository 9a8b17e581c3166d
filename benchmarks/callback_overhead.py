"""How much does the repfit LightGBM callback slow training down?

The same ``lgb.train`` (a validation set, 300+ iterations, one thread) runs with and without
the callback, interleaved pair by pair in one process so that machine load hits both sides
alike. Reported per broker condition (reachable, unreachable):

* the median of the per-pair slowdown ratios (with / without), by wall clock and by the
  training thread's CPU time (less sensitive to other processes on a shared machine);
* the extra training-thread CPU time per iteration, median over pairs, in microseconds;
* the callback's own time per iteration (measured around each call), in microseconds: the
  mean over all calls (the first call, which starts the run, included), the median of the
  ordinary calls, and beside them the same median for a no-op Python callback timed the same
  way in the same run (what any Python callback pays: LightGBM's C++ work between two calls
  leaves the interpreter's caches cold).

Targets (issue 5): ratio <= 1.02 and <= 20 us per iteration, broker reachable or not.

Usage::

    python benchmarks/callback_overhead.py [--pairs 7] [--rounds 400]
        [--broker mqtt://127.0.0.1:1883] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from _report import machine, write_section

from repfit.integrations.lightgbm import workout

PARAMS = {"objective": "binary", "metric": "auc", "num_leaves": 31, "learning_rate": 0.05,
          "verbose": -1, "num_threads": 1, "seed": 1, "deterministic": True}


@dataclass(frozen=True)
class Condition:
    name: str
    ratio: float
    cpu_ratio: float
    extra_us: float
    self_us: float
    base_ms_per_iter: float
    steady_us: float
    first_ms: float
    noop_us: float


class _Timed:
    """Wraps a callback to measure its own time per call (adds ~0.1 us)."""

    def __init__(self, cb: Any) -> None:
        self.cb = cb
        self.order = getattr(cb, "order", 30)
        self.before_iteration = False
        self.ns: list[int] = []

    def __call__(self, env: Any) -> None:
        t0 = time.perf_counter_ns()
        self.cb(env)
        self.ns.append(time.perf_counter_ns() - t0)

    @property
    def mean_us(self) -> float:
        return sum(self.ns) / len(self.ns) / 1e3

    @property
    def steady_us(self) -> float:
        """Median of the calls after the first."""
        return statistics.median(self.ns[1:]) / 1e3


def _noop(env: Any) -> None:
    """The baseline callback: reads the score, like any useful callback would."""
    results = env.evaluation_result_list
    if results:
        results[0][2]


def _data(seed: int = 0, n: int = 20000, d: int = 20) -> tuple[lgb.Dataset, lgb.Dataset]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    logit = x[:, 0] * 1.5 - x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + rng.normal(scale=0.8, size=n)
    y = (logit > 0).astype(int)
    split = int(0.8 * n)
    train = lgb.Dataset(x[:split], y[:split], free_raw_data=False)
    valid = lgb.Dataset(x[split:], y[split:], reference=train, free_raw_data=False)
    train.construct()
    valid.construct()
    return train, valid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _train(train: lgb.Dataset, valid: lgb.Dataset, rounds: int,
           callbacks: list[Any]) -> tuple[float, float]:
    """Wall seconds and main-thread CPU seconds of one ``lgb.train``."""
    t0, c0 = time.perf_counter(), time.thread_time()
    lgb.train(PARAMS, train, rounds, valid_sets=[valid], callbacks=callbacks)
    return time.perf_counter() - t0, time.thread_time() - c0


def measure(broker: str, pairs: int, rounds: int, train: lgb.Dataset, valid: lgb.Dataset,
            data_dir: Path, name: str) -> Condition:
    ratios, cpu_ratios, extras, selfs, bases = [], [], [], [], []
    steadies, firsts, noops = [], [], []
    for i in range(pairs + 1):  # the first pair warms caches and is discarded
        cb = workout(user="bench", broker=broker, data_dir=data_dir, experiment="bench",
                     exercise="push-ups")
        timed = _Timed(cb)
        # Alternate which side goes first (ABBA), so drift in machine load cancels out.
        if i % 2:
            base, base_cpu = _train(train, valid, rounds, [])
            with_cb, with_cpu = _train(train, valid, rounds, [timed])
        else:
            with_cb, with_cpu = _train(train, valid, rounds, [timed])
            base, base_cpu = _train(train, valid, rounds, [])
        cb.close(timeout=2.0)
        noop = _Timed(_noop)
        _train(train, valid, rounds, [noop])
        if i == 0:
            continue
        ratios.append(with_cb / base)
        cpu_ratios.append(with_cpu / base_cpu)
        extras.append((with_cpu - base_cpu) / rounds * 1e6)
        selfs.append(timed.mean_us)
        bases.append(base / rounds * 1e3)
        steadies.append(timed.steady_us)
        firsts.append(timed.ns[0] / 1e6)
        noops.append(noop.steady_us)
    med = statistics.median
    return Condition(name, med(ratios), med(cpu_ratios), med(extras), med(selfs), med(bases),
                     med(steadies), med(firsts), med(noops))


def report(conditions: list[Condition], pairs: int, rounds: int, command: str) -> str:
    lines = [
        "## Training callback overhead (`benchmarks/callback_overhead.py`)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}, LightGBM {lgb.__version__}. `lgb.train` on 16,000 x 20 "
        f"rows with a 4,000-row validation set, {rounds} iterations, `num_threads=1`; "
        f"{pairs} interleaved pairs with/without the callback per condition, alternating "
        "which runs first, (plus one "
        "discarded warm-up pair). Run history on, so the callback also records scores and "
        "compares with the previous run at every checkpoint.",
        "",
        "| broker | baseline ms/iteration | median slowdown ratio (wall) | median slowdown "
        "ratio (main-thread CPU) | extra main-thread CPU per iteration (median) | callback "
        "self-time per iteration, mean of all calls | ordinary call, median | first call "
        "| no-op Python callback, median |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in conditions:
        lines.append(f"| {c.name} | {c.base_ms_per_iter:.2f} | {c.ratio:.4f} | "
                     f"{c.cpu_ratio:.4f} | {c.extra_us:.1f} µs | {c.self_us:.2f} µs | "
                     f"{c.steady_us:.2f} µs | {c.first_ms:.2f} ms | {c.noop_us:.2f} µs |")
    ok = all(c.ratio <= 1.02 and c.self_us <= 20 for c in conditions)
    lines += [
        "",
        "Target: ratio <= 1.02 and <= 20 µs per iteration in both conditions — "
        + ("met" if ok else "**not met**") + " (wall ratio and callback self-time).",
        "",
        "How to read it: the self-time is measured around every callback call (the first "
        "call, which starts the run's session, and the checkpoint every 100 iterations "
        "included in the mean) and is the precise per-iteration cost; the no-op column is "
        "the floor any Python callback pays on the machine named above, measured the same "
        "way in the same run. The two ratios compare whole trainings; on that machine, "
        "shared with other processes, their pair-to-pair noise is a few percent, i.e. "
        "50-200 µs per iteration, so they "
        "and the extra-CPU column (which also picks up cache effects of the callback on "
        "LightGBM's own code) are only meaningful to that precision and can come out below "
        "1 or negative.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                        help="a reachable broker (default: the local Mosquitto)")
    parser.add_argument("--write", type=Path, help="update this benchmarks.md section")
    args = parser.parse_args(argv)
    train, valid = _data()
    conditions = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, broker in (("reachable", args.broker),
                             ("unreachable", f"mqtt://127.0.0.1:{_free_port()}")):
            conditions.append(measure(broker, args.pairs, args.rounds, train, valid,
                                      Path(tmp) / name, name))
            c = conditions[-1]
            print(f"{name}: ratio {c.ratio:.4f} (cpu {c.cpu_ratio:.4f}), extra cpu "
                  f"{c.extra_us:.1f} us/iter, self {c.self_us:.2f} us/iter (ordinary "
                  f"{c.steady_us:.2f}, first {c.first_ms:.2f} ms, no-op {c.noop_us:.2f}), "
                  f"baseline {c.base_ms_per_iter:.2f} ms/iter")
    command = "python benchmarks/callback_overhead.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]))
    text = report(conditions, args.pairs, args.rounds, command.strip())
    if args.write:
        write_section(args.write, "integrations", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
