"""What the user sees in the terminal: assignments, cues, a live progress bar, the verdict.

Every received string (exercise, label, texts, reasons, details) is shown as text:
`describe_assignment` and `describe_result` return `plain` text (for ``print``), and whatever
goes into rich markup is escaped with `repfit.display_text.markup`, so a message cannot
retitle or clear the terminal, plant a link, or style the screen.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from repfit import wire
from repfit.display_text import markup, plain
from repfit.exercises import display_name
from repfit.host.lifecycle import provenance

__all__ = ["ConsoleObserver", "describe_assignment", "describe_result"]

_UNIT_WORD = {"reps": "reps", "seconds": "s hold", "iterations": "iterations hold"}


def describe_assignment(a: wire.Assignment) -> str:
    why = {"assigned": "", "penalty": " (penalty)", "reward": " (reward)"}[a.reason]
    return f"{display_name(a.exercise, a.label)} - {a.target:g} {_UNIT_WORD[a.unit]}{why}"


def describe_result(r: wire.Result, *, date: bool = False,
                    assignment: wire.Assignment | None = None) -> str:
    """One line for a result; ``date`` adds the day to the time (history spans days). With
    its ``assignment``, the line says which one it was: why, where from, its short id."""
    when = datetime.fromtimestamp(r.finished_at).strftime(
        "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S") if r.finished_at else ""
    name = display_name(r.exercise, r.label)
    which = f" — {plain(provenance(assignment))}" if assignment is not None else \
        f" — {r.reason}" if r.reason != "assigned" else ""
    if r.outcome in ("capped", "missed"):         # never announced: nothing was asked
        detail = plain(r.detail or r.outcome)
        return f"{name}: {r.outcome} - {detail}{f' ({when})' * bool(when)}{which}"
    done = "completed" if r.completed else "NOT completed"
    if not r.verified:
        done = f"reported, not verified, {'complete' if r.completed else 'incomplete'}"
    if r.unit == "reps":
        amount = f"{r.reps}/{r.target:g} reps"
    else:
        amount = f"{r.hold_seconds or 0.0:.1f} s held"
    refused = f", {r.rejected} movement{'s' if r.rejected > 1 else ''} refused" if r.rejected \
        else ""
    # What ended it, when the outcome alone does not say (a set refused at the sensor's
    # position); a reported set's detail is what "reported, not verified" already says.
    why = f": {plain(r.detail)}" if r.detail and r.verified else ""
    return (f"{name}: {done} - {amount}{refused} ({r.outcome.replace('_', ' ')}"
            f"{', ' + when if when else ''}){why}{which}")


class ConsoleObserver:
    """Renders host events with rich; ``results`` and ``finished`` let callers wait on them.

    Each assignment gets its own live progress bar, stopped when its result is printed.
    """

    def __init__(self, console: Console | None = None, *, show_cues: bool = True) -> None:
        self.console = console or Console()
        self.show_cues = show_cues
        self.results: list[wire.Result] = []
        self.finished = asyncio.Event()
        self._bars: dict[str, tuple[Progress, TaskID]] = {}
        self._assignments: dict[str, wire.Assignment] = {}

    def assignment(self, a: wire.Assignment) -> None:
        self._assignments[a.id] = a
        self.console.print(f"[cyan]assignment[/] {markup(describe_assignment(a), None)}"
                           f"  [dim]{markup(provenance(a))}[/]"
                           + (f"  [dim]{markup(a.text)}[/]" if a.text else ""))

    @staticmethod
    def _amount(p: wire.Progress | wire.Result) -> str:
        if p.unit == "reps":
            text = f"{p.reps}/{p.target:g} reps"
        elif isinstance(p, wire.Progress):  # progress of a hold is in seconds
            text = f"{p.hold_seconds or 0.0:.1f}/{p.target:g} s"
        else:
            text = f"{p.hold_seconds or 0.0:.1f} s held"
        if p.rejected:
            reason = p.last_reason if isinstance(p, wire.Progress) else None
            why = f" ({markup(reason)})" if reason else ""
            text += f"  [yellow]{p.rejected} refused{why}[/]"
        return text

    @staticmethod
    def _done(p: wire.Progress | wire.Result) -> float:
        if p.unit == "reps":
            return min(float(p.reps), p.target)
        return p.hold_seconds or 0.0

    def progress(self, p: wire.Progress) -> None:
        if p.assignment_id not in self._bars:
            bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                           TextColumn("{task.fields[amount]}"), TimeElapsedColumn(),
                           console=self.console)
            name = display_name(p.exercise, p.label)
            # The short id only: the assignment's line above says where it came from, and a
            # long experiment/run name would push the count off an 80-column terminal.
            task = bar.add_task(markup(f"{name} ({p.assignment_id[:8]})"),
                                total=max(p.target, 1e-9),
                                amount="")
            bar.start()
            self._bars[p.assignment_id] = (bar, task)
        bar, task = self._bars[p.assignment_id]
        bar.update(task, completed=self._done(p), amount=self._amount(p))

    def cue(self, c: wire.Cue) -> None:
        if self.show_cues and c.kind not in ("tick", "tick_major"):
            self.console.print(f"[magenta]cue[/] {markup(c.kind)}"
                               + (f": {markup(c.text)}" if c.text else ""))

    def result(self, r: wire.Result) -> None:
        if r.assignment_id in self._bars:
            bar, task = self._bars.pop(r.assignment_id)
            bar.update(task, completed=self._done(r), amount=self._amount(r))
            bar.stop()
        colour = "yellow" if r.outcome in ("capped", "missed") or not r.verified else \
            "green" if r.completed else "red"
        line = describe_result(r, assignment=self._assignments.pop(r.assignment_id, None))
        self.console.print(f"[{colour}]result[/] {markup(line, None)}")
        self.results.append(r)
        self.finished.set()

    def health(self, text: str) -> None:
        """A task of the host failed and was restarted, or the host's role changed."""
        self.console.print("[yellow]host[/] " + markup(text, None), highlight=False)

    def close(self) -> None:
        for bar, _ in self._bars.values():
            bar.stop()
        self._bars.clear()
