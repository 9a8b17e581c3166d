"""Recorded accelerometer files: reading the data-folder CSV format, and ``repfit count``.

The CSV format is a header ``t,ax,ay,az`` (more columns are ignored, column order is free)
with ``t`` in seconds and accelerations in g. ``--units ms2`` converts m/s^2 and ``--units
mg`` milli-g; data that is plainly m/s^2 or milli-g (|a| near 9.8 or 1000 at rest) read as
g gets a hint instead of a nonsense count, and data with gravity removed (|a| near 0 at
rest: "linear" or "user" acceleration) a warning, since the counter measures tilt against
gravity, free fall and landings.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import math
import os
import sys
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from repfit.detection import EXERCISES, Rejection, RepEvent
from repfit.display_text import plain
from repfit.host.wearing import add_position_arg, position_setting

__all__ = ["RecordingError", "add_count_parser", "count_file", "read_csv", "run_count"]

log = logging.getLogger(__name__)

G_MS2 = 9.80665
REQUIRED = ("t", "ax", "ay", "az")
UNITS = {"g": 1.0, "ms2": G_MS2, "mg": 1000.0}
"""Accepted ``--units`` and how many of each make one g."""
MAX_CSV_BYTES = 256 * 1024 * 1024
"""Largest recording read (about 2 hours of t,ax,ay,az at 200 Hz)."""
NO_GRAVITY_G = 0.5
"""A median |a| below this (g) means gravity was removed from the recording."""


class RecordingError(ValueError):
    """A recording file that cannot be read; the message names the file and the problem."""


def read_csv(path: Path, units: str = "g") -> tuple[np.ndarray, np.ndarray]:
    """Read ``t`` (n,) and ``acc`` (n, 3) in g from a CSV file.

    Raises `RecordingError` (and nothing else, whatever the file holds) for a missing,
    unreadable or oversized file, bytes that are not UTF-8 text, a malformed CSV line (a NUL,
    a field over the csv module's limit), missing columns, non-numeric or non-finite cells or
    no rows, and when data read as g is plainly m/s^2 or milli-g.
    """
    if units not in UNITS:
        raise RecordingError(f"{path}: --units must be one of {', '.join(UNITS)}, got "
                             f"{plain(repr(units), 40)}")
    line_no = 1
    values = array("d")
    try:
        size = os.stat(path).st_size
        if size > MAX_CSV_BYTES:
            raise RecordingError(f"{path}: {size} bytes is larger than {MAX_CSV_BYTES} "
                                 "(about 2 hours at 200 Hz); split the recording")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise RecordingError(f"{path}: empty file (expected a header t,ax,ay,az)")
            names = [h.strip().lower() for h in header]
            missing = [c for c in REQUIRED if c not in names]
            if missing:
                raise RecordingError(
                    f"{path}: missing column(s) {', '.join(missing)}; header is "
                    f"{plain(','.join(header), 80)!r}, expected t,ax,ay,az (extra columns "
                    "are ignored)")
            cols = [names.index(c) for c in REQUIRED]
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                try:
                    sample = [float(row[i]) for i in cols]
                except (ValueError, IndexError):
                    raise RecordingError(
                        f"{path}:{line_no}: expected 4 numbers in columns t,ax,ay,az, got "
                        f"{plain(','.join(row), 80)!r}") from None
                if not all(math.isfinite(v) for v in sample):
                    raise RecordingError(f"{path}:{line_no}: a non-finite value (nan or inf) "
                                         "in columns t,ax,ay,az")
                values.extend(sample)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not a text CSV file (not UTF-8)") from None
    except csv.Error as exc:
        raise RecordingError(f"{path}:{line_no + 1}: not a CSV line ({exc})") from None
    rows = np.frombuffer(values, dtype=np.float64).reshape(-1, 4)
    if not rows.size:
        raise RecordingError(f"{path}: no samples after the header")
    t, acc = rows[:, 0].copy(), rows[:, 1:].copy()
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308 are still finite
        steps = np.diff(t)
        mag = np.linalg.norm(acc / UNITS[units], axis=1)
    if steps.size >= 10 and float(np.median(steps)) >= 1.0:
        raise RecordingError(
            f"{path}: samples are {float(np.median(steps)):g} time units apart; t must be in "
            "seconds (milliseconds? divide t by 1000)")
    acc = acc / UNITS[units]
    typical = float(np.median(mag)) if mag.size else 1.0
    if units == "g" and 6.0 <= typical <= 14.0:
        raise RecordingError(
            f"{path}: the acceleration magnitude is about {typical:.1f} at rest, which is "
            "m/s^2, not g; pass --units ms2")
    if units == "g" and 600.0 <= typical <= 1500.0:
        raise RecordingError(
            f"{path}: the acceleration magnitude is about {typical:.0f} at rest, which is "
            "milli-g, not g; pass --units mg")
    if typical < NO_GRAVITY_G:
        log.warning("%s: the acceleration magnitude is about %.2f g most of the time, not "
                    "1 g: gravity seems to have been removed (linear or user "
                    "acceleration); the counter needs total acceleration, so counts may "
                    "be low", path, typical)
    return t, acc


@dataclass(frozen=True)
class CountResult:
    """What ``repfit count`` reports for one file."""

    file: str
    exercise: str
    reps: int
    rep_times: list[float]
    hold_seconds: float | None
    rejected: list[dict[str, Any]]
    events: tuple[RepEvent, ...]
    position: str | None = None
    #: Why the exercise cannot be counted from ``position`` (None: it was counted).
    refused: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "exercise": self.exercise, "reps": self.reps,
                "rep_times": self.rep_times, "hold_seconds": self.hold_seconds,
                "rejected": self.rejected, "position": self.position,
                "refused": self.refused}


def count_file(path: Path, exercise: str, units: str = "g", batch_s: float = 1.0,
               position: str | None = None) -> tuple[CountResult, np.ndarray, np.ndarray]:
    """Stream one file through a `RepCounter` in ``batch_s`` batches, as a device would;
    ``position`` is where the sensor was worn (an exercise that cannot be counted from there
    is refused: `CountResult.refused`)."""
    t, acc = read_csv(path, units)
    from repfit.detection import RepCounter  # not at import: ``repfit --help`` needs no scipy

    counter = RepCounter(exercise, position=position)
    events: list[RepEvent] = []
    rejected: list[Rejection] = []
    if t.size:
        edges = np.searchsorted(t, np.arange(t[0], t[-1] + batch_s, batch_s), side="left")
        bounds = [*np.unique(edges[1:]).tolist(), t.size]
        lo = 0
        for hi in bounds:
            if hi <= lo:
                continue
            u = counter.feed(t[lo:hi], acc[lo:hi])
            events += u.events
            rejected += u.rejected
            lo = hi
    last = counter.finish()
    events += last.events
    rejected += last.rejected
    if counter.stats.nonfinite or counter.stats.out_of_order:
        log.warning("%s: dropped %d non-finite and %d out-of-order samples", path,
                    counter.stats.nonfinite, counter.stats.out_of_order)
    result = CountResult(
        file=str(path), exercise=exercise, reps=last.count,
        rep_times=[round(e.t, 3) for e in events],
        hold_seconds=None if last.hold_seconds is None else round(last.hold_seconds, 2),
        rejected=[{"t": round(r.t, 3), "reason": r.reason} for r in rejected],
        events=tuple(events), position=counter.position, refused=counter.refusal)
    return result, t, acc


def plot_count(out: Path, t: np.ndarray, acc: np.ndarray, result: CountResult,
               title: str) -> None:
    """Draw the three axes, the counter's movement trace and the counted/refused reps."""
    from repfit.host.charts import set_png

    out.write_bytes(set_png(t, acc, result.exercise, title,
                            rep_times=[e.t for e in result.events], position=result.position))


def add_count_parser(subparsers: Any) -> None:
    """Register ``repfit count`` on an argparse sub-parser collection."""
    p = subparsers.add_parser(
        "count", help="count reps in recorded CSV files (t,ax,ay,az in g)",
        description="Count reps (or hold seconds) in accelerometer recordings with the same "
                    "streaming counter the host uses. One result per file, in order.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.csv",
                   help="CSV with header t,ax,ay,az (seconds, g); extra columns are ignored")
    p.add_argument("--exercise", required=True, metavar="NAME",
                   help=f"the exercise: {', '.join(EXERCISES)} (any name of the exercise "
                        "vocabulary: 'push-ups', 'press-up', 'pompes', 'gainage'); others are "
                        "counted as generic rhythmic motion")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per file and line")
    p.add_argument("--plot", type=Path, metavar="OUT.png",
                   help="draw signal, movement trace and counted reps (needs repfit[plot]); "
                        "with several files, one image per file named OUT-<n>.png")
    p.add_argument("--units", choices=tuple(UNITS), default="g",
                   help="unit of ax,ay,az: g (default), ms2 (m/s^2) or mg (milli-g)")
    add_position_arg(p)


def _plot_path(base: Path, i: int, n: int) -> Path:
    return base if n == 1 else base.with_name(f"{base.stem}-{i + 1}{base.suffix or '.png'}")


def run_count(args: argparse.Namespace) -> int:
    """Run ``repfit count``; exit code 0 when every file was counted, 1 otherwise (a file
    that could not be read, or an exercise refused at the sensor's ``--position``)."""
    from repfit.host.session import counter_exercise

    profile = counter_exercise(args.exercise)
    args.position = position_setting({}, given=args.position)   # a ConfigError names it
    with contextlib.ExitStack() as stack:
        if args.plot is not None:
            if not args.plot.parent.is_dir():
                print(f"repfit count: --plot {args.plot}: the folder {args.plot.parent} does "
                      "not exist", file=sys.stderr)
                return 2
            if "MPLCONFIGDIR" not in os.environ:
                # A read-only command leaves nothing behind: matplotlib's cache goes to a
                # temporary folder instead of the user's home.
                os.environ["MPLCONFIGDIR"] = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="repfit-mpl-"))
                stack.callback(os.environ.pop, "MPLCONFIGDIR", None)
            try:
                import matplotlib
            except ImportError:
                print("repfit count: --plot needs matplotlib: pip install 'repfit[plot]'",
                      file=sys.stderr)
                return 2
            matplotlib.use("Agg")
        return _count_files(args, profile)


def _count_files(args: argparse.Namespace, profile: str) -> int:
    failed = 0
    for i, path in enumerate(args.files):
        try:
            result, t, acc = count_file(path, profile, args.units, position=args.position)
        except RecordingError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"file": str(path), "exercise": profile,
                                  "error": str(exc)}), flush=True)
            print(f"repfit count: {exc}", file=sys.stderr)
            continue
        failed += result.refused is not None
        if args.json:
            print(json.dumps(result.as_json()), flush=True)
        elif result.refused is not None:
            print(f"{path}: refused, not counted ({profile}): {result.refused}")
        elif result.hold_seconds is not None:
            print(f"{path}: held {result.hold_seconds:.1f} s ({profile})")
        else:
            refused = f", {len(result.rejected)} refused" if result.rejected else ""
            print(f"{path}: {result.reps} reps ({profile}{refused})")
        if args.plot is not None:
            out = _plot_path(args.plot, i, len(args.files))
            plot_count(out, t, acc, result, title=str(path))
    return 1 if failed else 0
