"""The live phone path against ``repfit count``, on every real development recording.

Usage::

    python benchmarks/live_count.py [--data ../shared/data/reps] [--broker mqtt://127.0.0.1:1883]
        [--speed 20] [--limit N] [--write docs/benchmarks.md]

Every labelled set is streamed as a phone running Sensor Logger streams it (pushes of 0.3 s
of samples, published to the broker with a 20 ms + exponential(30 ms) network delay, on a
clock ``--speed`` times faster than real time that the host's phone source stamps arrivals
with: `tests/phone_replay.py`) into a running host (`repfit host --phone`), which counts it as
an open assignment; the set is ended once every sample has reached the host. The table says
on how many sets the host's count differs from `repfit count` on the same file, and by how
much.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import time
from collections import Counter
from pathlib import Path

from _report import machine, write_section
from rep_accuracy import profile_of

from repfit.config import parse_broker_url
from repfit.host.recordings import count_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from phone_replay import Recording, host_counts  # noqa: E402  (the live-path test's replay)

DEFAULT_DATA = Path(os.environ.get("REPFIT_REPS_DATA", REPO.parent / "shared" / "data" / "reps"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    ap.add_argument("--speed", type=float, default=20.0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--write", type=Path, default=None)
    args = ap.parse_args()
    with open(args.data / "labels.csv", newline="") as f:
        labels = list(csv.DictReader(f))[:args.limit]
    recs, offline = [], []
    for lab in labels:
        exercise = profile_of(lab["exercise"])
        result, t, acc = count_file(args.data / "data" / lab["file"], exercise)
        recs.append(Recording(lab["file"], exercise, t, acc))
        offline.append(result.reps)
    started = time.monotonic()
    live = asyncio.run(host_counts(parse_broker_url(args.broker), recs, speed=args.speed))
    took = time.monotonic() - started
    diffs = [lv - off for lv, off in zip(live, offline, strict=True)]
    by_source: dict[str, list[int]] = {}
    for rec, d in zip(recs, diffs, strict=True):
        by_source.setdefault(rec.name.split("__")[0], []).append(d)
    sizes = Counter(abs(d) for d in diffs if d)
    rows = ["| source | sets | count differs | by 1 | by more |", "|---|---|---|---|---|"]
    for source, ds in [*sorted(by_source.items()), ("all", diffs)]:
        rows.append(f"| {source} | {len(ds)} | {sum(1 for d in ds if d)} | "
                    f"{sum(1 for d in ds if abs(d) == 1)} | {sum(1 for d in ds if abs(d) > 1)} |")
    listed = [f"- {r.name}: live {lv}, count {off}"
              for r, lv, off in zip(recs, live, offline, strict=True) if lv != off]
    body = "\n".join([
        "## Live phone path against `repfit count` (`benchmarks/live_count.py`)", "",
        f"Command: `python benchmarks/live_count.py {' '.join(sys.argv[1:])}` "
        f"(Mosquitto on 127.0.0.1); machine: {machine()}; {took:.0f} s.", "",
        *rows, "",
        f"Differences by size: {dict(sorted(sizes.items())) or 'none'}.", "",
        *(listed or ["Every set counts the same on both paths."]), ""])
    print(body)
    if args.write:
        write_section(args.write, "live-count", body)


if __name__ == "__main__":
    main()
