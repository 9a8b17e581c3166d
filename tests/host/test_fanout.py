"""FanOut: every view hears every event; one that fails silences no other."""

from __future__ import annotations

import logging

import pytest

from repfit import wire
from repfit.host.fanout import FanOut


class Seen:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []

    def _note(self, what: str) -> None:
        self.events.append(what)
        if self.fail:
            raise RuntimeError("a broken view")

    def assignment(self, a: wire.Assignment) -> None:
        self._note("assignment")

    def progress(self, p: wire.Progress) -> None:
        self._note("progress")

    def result(self, r: wire.Result) -> None:
        self._note("result")

    def cue(self, c: wire.Cue) -> None:
        self._note("cue")


class WithHealth(Seen):
    def health(self, text: str) -> None:
        self._note(f"health: {text}")


def test_each_observer_hears_everything_whatever_the_others_do(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "repfit.host.fanout")
    broken, plain, healthy = WithHealth(fail=True), Seen(), WithHealth()
    fan = FanOut([broken, plain, healthy])
    fan.assignment(wire.Assignment("a1", "squat", 5))
    fan.progress(wire.Progress("a1", "squat", 1, 5))
    fan.result(wire.Result("a1", "squat", True, "target_reached", 5, 5))
    fan.cue(wire.Cue("start"))
    fan.health("verifying")
    assert plain.events == ["assignment", "progress", "result", "cue"]
    assert healthy.events == broken.events == [*plain.events, "health: verifying"]
    assert len(caplog.records) == 5
