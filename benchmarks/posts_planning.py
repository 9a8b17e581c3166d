"""What posting adds to storing a result: `PostPlanner.plan` (read the user's records, compute
streak and today's totals, render) plus the outbox insert, against storing the result alone,
for histories of growing size. Both run in the host's worker thread, never on its message
loop; the ratio says how much later the result is announced with posting on.

With ``picture = true``, the set's samples are compressed and stored with the post (the
picture is drawn later, by the outbox worker): the second table says what that adds to the
store, for sets of growing length, beside what drawing the picture costs the worker (what
storing the PNG itself would have added to the result's path).

    python benchmarks/posts_planning.py [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, write_section

from repfit import wire
from repfit.config import Config
from repfit.host.posts.length import X
from repfit.host.posts.planner import PostPlanner
from repfit.host.posts.settings import load_settings
from repfit.host.setsamples import SetRecorder, SetSamples
from repfit.host.store import Store

T0 = 1.7e9
ENV = {"REPFIT_X_API_KEY": "k", "REPFIT_X_API_SECRET": "s", "REPFIT_X_ACCESS_TOKEN": "t",
       "REPFIT_X_ACCESS_TOKEN_SECRET": "u"}


def _fill(store: Store, n: int, rest_days: bool) -> None:
    for i in range(n):  # three sets a day; with rest days, none on Sundays (UTC)
        if rest_days and time.gmtime(T0 + i * 28800).tm_wday == 6:
            continue
        a = wire.Assignment(id=f"a{i}", exercise="pushup", target=10)
        store.add_assignment("ada", a, T0 + i * 28800)
        store.add_result("ada", wire.Result(
            assignment_id=a.id, exercise="pushup", completed=True, outcome="target_reached",
            reps=10, target=10, finished_at=T0 + i * 28800 + 60))


def measure(n: int, rest_days: bool, rounds: int = 15) -> tuple[float, float]:
    """Median ms to store a new result: (alone, with planning and its posts)."""
    alone, posted = [], []
    with tempfile.TemporaryDirectory() as d:
        store = Store.in_dir(d)
        _fill(store, n, rest_days)
        cfg = Config(tables={"posts": {"x": {"when": ["verified", "milestones"]}}})
        end = T0 + n * 28800 + 60  # the planner's "now": right after the history
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: end)
        for k in range(rounds):
            for with_posts, into in ((False, alone), (True, posted)):
                i = f"new{k}{with_posts}"
                a = wire.Assignment(id=i, exercise="squat", target=10)
                store.add_assignment("ada", a, T0 + n * 28800)
                r = wire.Result(assignment_id=i, exercise="squat", completed=False,
                                outcome="deadline", reps=4, target=10,
                                finished_at=T0 + n * 28800 + 60)
                start = time.perf_counter()
                posts = planner.plan("ada", r) if with_posts else []
                store.add_result("ada", r, posts=posts)
                into.append((time.perf_counter() - start) * 1000)
        store.close()
    return statistics.median(alone), statistics.median(posted)


def _set_samples(n: int) -> SetSamples:
    """A set of ``n`` samples: the simulated athlete's squats, repeated."""
    import numpy as np

    from repfit.host.athlete import Athlete, recording_for

    rec = recording_for(wire.Assignment(id="s", exercise="squat", target=30),
                        Athlete(seed=5), seed=5)
    step = float(np.median(np.diff(rec.t)))
    copies = -(-n // len(rec.t))
    t = np.arange(copies * len(rec.t))[:n] * step
    acc = np.tile(rec.acc, (copies, 1))[:n]
    reps = tuple(float(x) for x in np.arange(1.5, t[-1], 2.5))
    return SetSamples("s", "squat", "squats", t, acc, reps)


def measure_picture(n_samples: int, rounds: int = 7,
                    ) -> tuple[float, float, int, float, int]:
    """Median ms to store a new result with its X post, without and with the set's samples;
    the samples' stored size; ms to draw the picture and the PNG's size."""
    from repfit.host.posts.worker import draw_picture
    from repfit.host.store import PostPicture

    samples = _set_samples(n_samples)
    text, pictured, stored = [], [], 0
    with tempfile.TemporaryDirectory() as d:
        store = Store.in_dir(d)
        _fill(store, 300, True)
        cfg = Config(tables={"posts": {"x": {"when": ["verified"], "picture": True}}})
        end = T0 + 300 * 28800 + 60
        planner = PostPlanner(load_settings(cfg, env=ENV), store, {"x": X},
                              clock=lambda: end)
        for k in range(rounds):
            for with_picture, into in ((False, text), (True, pictured)):
                i = f"pic{k}{with_picture}"
                store.add_assignment("ada", wire.Assignment(id=i, exercise="squat",
                                                            target=10), end - 60)
                r = wire.Result(assignment_id=i, exercise="squat", completed=False,
                                outcome="deadline", reps=4, target=10, finished_at=end)
                start = time.perf_counter()
                posts = planner.plan("ada", r, SetSamples(
                    i, samples.exercise, samples.title, samples.t, samples.acc,
                    samples.rep_times) if with_picture else None)
                store.add_result("ada", r, posts=posts)
                into.append((time.perf_counter() - start) * 1000)
                picture = posts[0].picture
                stored = len(picture.samples) if picture is not None else stored
        store.close()
    kept = PostPicture(samples.to_bytes(), "alt")
    draws = []
    for _ in range(3):
        start = time.perf_counter()
        png = draw_picture(kept).png
        draws.append((time.perf_counter() - start) * 1000)
    return (statistics.median(text), statistics.median(pictured), stored,
            statistics.median(draws), len(png))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="update this benchmarks.md section")
    args = parser.parse_args(argv)
    lines = ["## Posts: what planning adds to storing a result (`benchmarks/posts_planning.py`)",
             "", "Command: `python benchmarks/posts_planning.py --write docs/benchmarks.md` -- "
             f"machine: {machine()}.", "",
             "Median of 15 interleaved stores per history size; one X service with "
             "`when = [\"verified\", \"milestones\"]`. Both columns run in the host's worker "
             "thread, off its message loop.", "",
             "Facts are read from the last 400 days, and from the whole history only when the "
             "streak reaches back that far (the last row: years without a rest day).", "",
             "| results stored (3 a day) | rest days | store alone, ms | plan + store with "
             "posts, ms | ratio |", "|---|---|---|---|---|"]
    for n, rest in ((300, True), (3000, True), (10000, True), (10000, False)):
        alone, posted = measure(n, rest)
        lines.append(f"| {n} | {'weekly' if rest else 'none'} | {alone:.2f} | {posted:.2f} "
                     f"| {posted / alone:.1f} |")
    lines += ["", "With `picture = true` (300 results stored; median of 7 interleaved stores, "
              "3 drawings). The samples are the simulated athlete's squats at 50 Hz; the "
              f"host keeps at most {SetRecorder.MAX_SAMPLES} samples of a set (the last row).",
              "", "| samples in the set | plan + store, text post, ms | plan + store with the "
              "samples, ms | ratio | samples stored, KiB | drawing (worker), ms | PNG, KiB |",
              "|---|---|---|---|---|---|---|"]
    for n in (3000, 15000, 60000, SetRecorder.MAX_SAMPLES):
        text_ms, picture_ms, size, draw_ms, png = measure_picture(n)
        lines.append(f"| {n} | {text_ms:.2f} | {picture_ms:.2f} | {picture_ms / text_ms:.1f} "
                     f"| {size / 1024:.0f} | {draw_ms:.0f} | {png / 1024:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(args.write, "posts", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
