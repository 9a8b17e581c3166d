"""What the terminal shows while a set is under way."""

from __future__ import annotations

import io

from rich.console import Console

from repfit import wire
from repfit.host.console import ConsoleObserver


def test_the_progress_bar_keeps_the_count_visible_in_an_80_column_terminal() -> None:
    out = io.StringIO()
    observer = ConsoleObserver(Console(file=out, width=80, force_terminal=False))
    a = wire.Assignment(id="472dbe96bf434b22a98603ca139232f4", exercise="pushup", target=10,
                        experiment="lightgbm-d833173cba0ed605",
                        run_id="88be24eb7be94d90b2fc43af58d7de98")
    observer.assignment(a)
    observer.progress(wire.Progress(assignment_id=a.id, exercise="pushup", reps=7, target=10))
    observer.close()
    (bar,) = [line for line in out.getvalue().splitlines() if line.startswith("push-ups (")]
    assert "7/10 reps" in bar and "472dbe96" in bar
