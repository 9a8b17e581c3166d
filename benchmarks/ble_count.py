"""The BLE route's count against the count of the same samples, on every real recording.

Usage::

    python benchmarks/ble_count.py [--data ../shared/data/reps] [--against REV]
        [--write docs/benchmarks.md]

Every labelled set is encoded as a repfit wearable streams it (byte-exact notifications of
38 samples at the recording's own rate, `encode_recording`), decoded and assembled as the
host does (`decode_repfit`, `StreamAssembler` with its `ClockMapper`), with notifications
arriving 8 ms + exponential(30 ms) after their last sample plus a 150 ms burst one time in
twenty. The device's real sample rate is its nominal one, or 1 % faster or slower (an
oscillator or accelerometer rate that is not quite what it claims). The set starts as the
wearable connects, or after it has streamed a minute of rest (the host connects it when it
starts; a set opens later, and only the set's samples reach its counter). The reference
count is the counter run on the same decoded samples at their true times, in one batch:
what a perfect clock would give. ``--against REV`` also runs the host clock mapping of an earlier
commit (``host/sources/_clock.py`` at REV) on the same arrivals, in the same run.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _report import machine, write_section
from rep_accuracy import profile_of

from repfit.detection import RepCounter
from repfit.host.recordings import read_csv
from repfit.host.sources._clock import ClockMapper
from repfit.host.sources._packets import decode_repfit
from repfit.host.sources._replay import encode_recording
from repfit.host.sources._stream import StreamAssembler

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("REPFIT_REPS_DATA", REPO.parent / "shared" / "data" / "reps"))
RATE_ERRORS = (0.0, 0.01, -0.01)
WARMUPS_S = (0.0, 60.0)
PER_PACKET = 38


def baseline_mapper(rev: str, into: Path) -> Callable[[], object]:
    """The `ClockMapper` class of the repository at ``rev`` (it imports only numpy)."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:host/sources/_clock.py"],
                         capture_output=True, check=True).stdout
    path = into / "baseline_clock.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location("baseline_clock", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ClockMapper  # type: ignore[no-any-return]


def _count(exercise: str, batches: list[tuple[np.ndarray, np.ndarray]]) -> int:
    c = RepCounter(exercise)
    n = sum(len(c.feed(t, a).events) for t, a in batches)
    return n + len(c.finish().events)


def route_counts(exercise: str, acc: np.ndarray, rate: int, rate_error: float,
                 warmup_s: float, seed: int, mappers: list[Callable[[], object]]
                 ) -> tuple[int, list[int]]:
    """(count at true times, count through the route with each clock mapper) of the set
    ``acc``, streamed after ``warmup_s`` of rest (whole notifications)."""
    rest = np.zeros((PER_PACKET * round(warmup_s * rate / PER_PACKET), 3))
    rest[:, 2] = 1.0
    stream = np.concatenate([rest, acc])
    frames = [decode_repfit(p) for p in encode_recording(stream, rate_hz=rate, range_code=2,
                                                         per_packet=PER_PACKET)]
    rng = np.random.default_rng(seed)
    lat = 0.008 + rng.exponential(0.03, len(frames)) + (rng.random(len(frames)) < 0.05) * 0.15
    true_rate = rate * (1.0 + rate_error)
    times = [1000.0 + (f.counter + np.arange(len(f))) / true_rate for f in frames]
    first = rest.shape[0] // PER_PACKET           # the set's first notification
    truth = _count(exercise, [(np.concatenate(times[first:]),
                               np.concatenate([f.acc for f in frames[first:]]))])
    out = []
    for make in mappers:
        asm = StreamAssembler("bench", rate, clock=make())  # type: ignore[arg-type]
        batches = []
        for k, (f, t, late) in enumerate(zip(frames, times, lat, strict=True)):
            got = asm.push(f, float(t[-1] + late))
            if k >= first:
                batches += [(b.t, b.acc) for b in got]
        batches += [(b.t, b.acc) for b in asm.flush()]
        out.append(_count(exercise, batches))
    return truth, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--against", metavar="REV", default=None,
                    help="also run the clock mapping of this commit on the same arrivals")
    ap.add_argument("--write", type=Path, default=None)
    args = ap.parse_args(argv)
    labels_path = args.data / "labels.csv"
    if not labels_path.is_file():
        ap.error(f"no development recordings at {args.data} (set REPFIT_REPS_DATA or --data)")
    with open(labels_path, newline="") as f:
        labels = list(csv.DictReader(f))
    with tempfile.TemporaryDirectory() as tmp:
        mappers: list[Callable[[], object]] = [ClockMapper]
        names = ["this clock mapping"]
        if args.against:
            mappers.append(baseline_mapper(args.against, Path(tmp)))
            names.append(f"clock mapping at `{args.against}` (same run)")
        changed = {(e, w, i): [0, 0] for e in RATE_ERRORS for w in WARMUPS_S
                   for i in range(len(mappers))}
        for n, lab in enumerate(labels):
            t, acc = read_csv(args.data / "data" / lab["file"])
            rate = round(1.0 / float(np.median(np.diff(t))))
            for err in RATE_ERRORS:
                for warm in WARMUPS_S:
                    truth, counts = route_counts(profile_of(lab["exercise"]), acc, rate, err,
                                                 warm, n, mappers)
                    for i, c in enumerate(counts):
                        changed[err, warm, i][0] += c != truth
                        changed[err, warm, i][1] += abs(c - truth) > 1
            if (n + 1) % 50 == 0:
                print(f"{n + 1}/{len(labels)} sets", file=sys.stderr)
    cmd = "python benchmarks/ble_count.py" + (f" --against {args.against}" if args.against
                                               else "") + " --write docs/benchmarks.md"
    lines = [
        "## BLE route against the count of the same samples (`benchmarks/ble_count.py`)",
        "",
        f"Command: `{cmd}` -- machine: {machine()}.",
        "",
        f"All {len(labels)} real development sets, encoded as repfit notifications at their own "
        "rate, decoded and timed by the host (`StreamAssembler`, `ClockMapper`) under bunched "
        "arrivals; sets whose count differs from the counter's on the same samples at their "
        "true times (by more than one rep):",
        "",
        "| device's real rate vs nominal | set starts | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for err in RATE_ERRORS:
        for warm in WARMUPS_S:
            cells = [f"{changed[err, warm, i][0]} ({changed[err, warm, i][1]})"
                     for i in range(len(mappers))]
            when = f"after {warm:.0f} s of rest" if warm else "as it connects"
            lines.append(f"| {err:+.0%} | {when} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(args.write, "ble-count", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
