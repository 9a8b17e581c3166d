"""What posting adds to storing a result: `PostPlanner.plan` (read the user's records, compute
streak and today's totals, render) plus the outbox insert, against storing the result alone,
for histories of growing size. Both run in the host's worker thread, never on its message
loop; the ratio says how much later the result is announced with posting on.

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
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(args.write, "posts", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
