"""History charts: the series from a real SQLite store, and ``repfit stats --plot``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from repfit import wire
from repfit.host import charts, stats
from repfit.host.cli import main
from repfit.host.store import Store
from repfit.integrations.history import HistoryStore

PARIS = ZoneInfo("Europe/Paris")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    rows = [  # (id, exercise, reps, target, finished, reason, run)
        ("a1", "squat", 10, 10, "2026-03-01T09:00", "assigned", "run-1"),
        ("a2", "pushup", 5, 10, "2026-03-01T23:30", "penalty", "run-1"),
        ("a3", "pushup", 12, 12, "2026-03-02T08:00", "penalty", "run-2"),
        ("a4", "squat", 8, 8, "2026-03-03T08:00", "reward", "run-2"),
        ("a5", "squat", 3, 3, "2026-02-01T08:00", "assigned", None),   # outside the span
    ]
    with Store.in_dir(tmp_path) as store:
        for aid, exercise, reps, target, finished, reason, run in rows:
            t = _at(finished)
            a = wire.Assignment(aid, exercise, target, reason=reason,  # type: ignore[arg-type]
                                issued_at=t - 100, run_id=run)
            store.add_assignment("ada", a, received_at=t - 99)
            store.add_result("ada", wire.Result(
                aid, exercise, reps >= target, "target_reached" if reps >= target
                else "deadline", reps, target, reason=reason,  # type: ignore[arg-type]
                started_at=t - 60, finished_at=t))
    # The training side's run history in the same data directory: run-0 assigned nothing.
    runs = HistoryStore.in_dir(tmp_path)
    for run, started, scores in (("run-0", "2026-02-28T10:00", [(10, 0.70), (20, 0.74)]),
                                 ("run-1", "2026-03-01T08:00", [(10, 0.71), (20, 0.69)]),
                                 ("run-2", "2026-03-02T07:00", [(10, 0.80)])):
        runs.start_run(run, "exp", started_at=_at(started))
        runs.add_scores(run, scores, metric=("valid", "auc"), higher_is_better=True)
    return tmp_path


def test_the_series(data_dir: Path) -> None:
    with Store.in_dir(data_dir) as store:
        records = [stats.Record(*row) for row in store.records("ada")]
    h = charts.history(records, "ada", _at("2026-03-03T12:00"), PARIS, days=5,
                       run_scores=charts.read_run_scores(data_dir))
    assert [d.isoformat() for d in h.days][-3:] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert h.reps == {"push-ups": (0, 0, 5, 12, 0), "squats": (0, 0, 10, 0, 8)}
    assert h.completed == (0, 0, 1, 1, 1) and h.not_completed == (0, 0, 1, 0, 0)
    assert h.streak == (0, 0, 1, 2, 3)
    assert h.runs == (("run-0", 0, 0, 0.74), ("run-1", 1, 0, 0.69), ("run-2", 1, 1, 0.80))
    assert h.metric == "auc"
    assert charts.read_run_scores(data_dir / "elsewhere") == []


def test_stats_plot_writes_a_png(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "history.png"
    assert main(["stats", "--user", "ada", "--tz", "Europe/Paris", "--data-dir",
                 str(data_dir), "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["stats", "--user", "ada", "--data-dir", str(data_dir), "--plot",
                 str(tmp_path / "no" / "dir" / "x.png")]) == 2


def test_a_sets_own_plot() -> None:
    from repfit.detection.simulate import simulate_set

    rec = simulate_set("squat", reps=4, fs_hz=50, seed=1)
    image = charts.set_png(rec.t, rec.acc, "squat", "squats")
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    with_times = charts.set_png(rec.t, rec.acc, "squat", "squats", rep_times=[1.0, 2.0])
    assert with_times[:8] == image[:8] and with_times != image
