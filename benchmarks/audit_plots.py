"""Blind plots of the labelled real sets, for counting their reps by eye.

Usage::

    python benchmarks/audit_plots.py plot OUT [--data ../shared/data/reps] [--seed N]
    python benchmarks/audit_plots.py join OUT --a A.csv [...] --b B.csv [...] [--c C.csv ...]

The labels of the development recordings are schedules, protocols and counts typed at the
gym, not observed counts. To tell the counter's errors from the labels' errors, people count
every set by eye from these plots without seeing the label or any counter's output; the
counts go into ``benchmarks/label_audit.csv`` and `rep_accuracy.py` scores the counter
against them beside the labels (``docs/benchmarks.md``). How, and the instructions the
annotators get: ``docs/label-audit.md``.

``plot``: each set becomes ``OUT/plots/<id>.png`` under a random id (seeded), titled with
the exercise, the sensor position, the rate and the duration only. The key from id to file
is ``OUT/key.csv``: keep it from the people counting. One row of two panels per ~30 s: the
three axes low-passed at 2 Hz (zero phase: shapes, not timing), and |a| raw (jumps, impacts).
Needs the ``plot`` extra (matplotlib).

``join``: the answer files of two annotators who counted every plot (``--a`` and ``--b``,
each one or more CSV files with the header ``id,count,low,high,confidence,note``) and of a
third who counted the plots where they differ (``--c``), joined through the key into
``label_audit.csv`` beside this script. Every set must have been counted by a and b, and
every set where they differ by c (when ``--c`` is given).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

import numpy as np
from rep_accuracy import AUDIT, DEFAULT_DATA
from scipy.signal import butter, filtfilt

from repfit.host.recordings import read_csv

ROW_S = 30.0
"""Longest time slice per row of panels (s)."""
LOWPASS_HZ = 2.0
"""Upper edge of the axes panel: every real rep's fundamental (the fastest, push-ups at
0.8 s, is 1.25 Hz) without the jitter that hides the cycles."""


def plot_set(path: Path, title: str, t: np.ndarray, acc: np.ndarray) -> None:
    """One set's plot: rows of axes (low-passed) over |a| (raw)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs = 1.0 / float(np.median(np.diff(t)))
    b, a = butter(2, min(LOWPASS_HZ, 0.4 * fs) / (fs / 2.0))
    smooth = filtfilt(b, a, acc, axis=0) if t.size > 3 * max(len(a), len(b)) else acc
    mag = np.linalg.norm(acc, axis=1)
    rows = max(1, int(np.ceil(t[-1] / ROW_S)))
    span = t[-1] / rows
    fig, axes = plt.subplots(2 * rows, 1, figsize=(16, 4.2 * rows), squeeze=False)
    for r in range(rows):
        lo, hi = r * span, (r + 1) * span
        inside = (t >= lo - 0.5) & (t <= hi + 0.5)
        top, bottom = axes[2 * r, 0], axes[2 * r + 1, 0]
        for k, (colour, name) in enumerate(zip(("tab:red", "tab:green", "tab:blue"), "xyz",
                                                          strict=True)):
            top.plot(t[inside], smooth[inside, k], color=colour, lw=1.2, label=name)
        bottom.plot(t[inside], mag[inside], color="k", lw=0.8)
        for ax in (top, bottom):
            ax.set_xlim(lo, hi)
            ax.set_xticks(np.arange(np.ceil(lo), hi + 0.01, 5))
            ax.set_xticks(np.arange(np.ceil(lo), hi + 0.01, 1), minor=True)
            ax.grid(True, which="major", alpha=0.5)
            ax.grid(True, which="minor", alpha=0.15)
        top.set_ylabel(f"axes (g), low-passed {LOWPASS_HZ:g} Hz")
        bottom.set_ylabel("|a| (g), raw")
        if r == 0:
            top.legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_all(out: Path, data: Path, seed: int) -> int:
    labels = data / "labels.csv"
    if not labels.exists():
        print(f"no labelled data at {data}", file=sys.stderr)
        return 2
    with open(labels, newline="") as f:
        sets = list(csv.DictReader(f))
    ids = random.Random(seed).sample(range(1000, 10000), len(sets))
    (out / "plots").mkdir(parents=True, exist_ok=True)
    with open(out / "key.csv", "w", newline="") as f:
        key = csv.writer(f)
        key.writerow(["id", "file"])
        for n, (lab, i) in enumerate(zip(sets, ids, strict=True), 1):
            sid = f"S{i}"
            t, acc = read_csv(data / "data" / lab["file"])
            fs = 1.0 / float(np.median(np.diff(t)))
            plot_set(out / "plots" / f"{sid}.png",
                     f"{sid}: {lab['exercise']}, sensor on the {lab['sensor_position']}, "
                     f"{fs:.0f} Hz, {t[-1]:.0f} s", t, acc)
            key.writerow([sid, lab["file"]])
            print(f"\r{n}/{len(sets)} plots", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return 0


def _answers(paths: list[Path]) -> dict[str, dict[str, str]]:
    got: dict[str, dict[str, str]] = {}
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                got[row["id"].strip()] = row
    return got


def join(out: Path, a: list[Path], b: list[Path], c: list[Path]) -> int:
    with open(out / "key.csv", newline="") as f:
        key = {r["id"]: r["file"] for r in csv.DictReader(f)}
    answers = {"a": _answers(a), "b": _answers(b), "c": _answers(c)}
    split = {sid for sid in key if sid in answers["a"] and sid in answers["b"]
             and answers["a"][sid]["count"].strip() != answers["b"][sid]["count"].strip()}
    missing = {k: sorted(set(key) - set(answers[k])) for k in "ab"}
    missing["c"] = sorted(split - set(answers["c"])) if c else []
    if any(missing.values()):
        print("not counted: " + "; ".join(f"{k}: {', '.join(ids)}"
                                           for k, ids in missing.items() if ids),
              file=sys.stderr)
        return 2
    fields = ("count", "low", "high", "confidence")
    with open(AUDIT, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", *(f"{k}_{x}" for k in "abc" for x in fields)])
        for sid, file in sorted(key.items(), key=lambda kv: kv[1]):
            w.writerow([file, *(answers[k][sid][x].strip() if sid in answers[k] else ""
                                for k in "abc" for x in fields)])
    print(f"{len(key)} sets written to {AUDIT} ({len(split)} where a and b differ)",
          file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plot", help="blind plots of every labelled set, and their key")
    p.add_argument("out", type=Path, help="folder for plots/ and key.csv")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--seed", type=int, default=20261206, help="seed of the random ids")
    j = sub.add_parser("join", help=f"two annotators' answers -> {AUDIT.name}")
    j.add_argument("out", type=Path, help="the folder `plot` wrote (its key.csv)")
    j.add_argument("--a", type=Path, nargs="+", required=True, help="annotator a's answers")
    j.add_argument("--b", type=Path, nargs="+", required=True, help="annotator b's answers")
    j.add_argument("--c", type=Path, nargs="*", default=[],
                   help="annotator c's answers: the sets where a and b differ")
    args = ap.parse_args(argv)
    if args.command == "plot":
        return plot_all(args.out, args.data, args.seed)
    return join(args.out, args.a, args.b, args.c)


if __name__ == "__main__":
    raise SystemExit(main())
