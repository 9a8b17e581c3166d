"""Fixtures for the training side: a listener on the real broker, tiny real data sets."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from repfit import wire
from repfit.config import MqttSettings
from repfit.integrations.history import HistoryStore

#: Generous bound on waiting for a message; only reached when something is broken.
WAIT_S = 30.0


class Listener:
    """Subscribes to ``repfit/<user>/#`` and collects decoded messages in arrival order."""

    def __init__(self, settings: MqttSettings, user: str) -> None:
        self.messages: queue.Queue[wire.Message] = queue.Queue()
        self.seen: list[wire.Message] = []
        self.undecodable: list[str] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        if settings.username is not None:
            self.client.username_pw_set(
                settings.username, settings.password.reveal() if settings.password else None)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(f"repfit/{user}/#", qos=1)
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        if not subscribed.wait(WAIT_S):
            raise RuntimeError("listener could not subscribe")

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            _, message = wire.decode(msg.topic, msg.payload)
        except wire.WireError as exc:
            self.undecodable.append(str(exc))
            return
        self.messages.put(message)

    def wait_for(self, predicate: Callable[[wire.Message], bool],
                 what: str = "message") -> wire.Message:
        """The first (not yet consumed) message matching ``predicate``."""
        for m in self.seen:
            if predicate(m):
                self.seen.remove(m)
                return m
        while True:
            try:
                m = self.messages.get(timeout=WAIT_S)
            except queue.Empty:
                raise AssertionError(f"no {what} arrived; got {self.seen!r}") from None
            if predicate(m):
                return m
            self.seen.append(m)

    def assignment(self, reason: str | None = None) -> wire.Assignment:
        """The next assignment (with this ``reason`` when given)."""
        m = self.wait_for(lambda m: isinstance(m, wire.Assignment)
                          and (reason is None or m.reason == reason), f"{reason} assignment")
        assert isinstance(m, wire.Assignment)
        return m

    def cue(self, kind: str) -> wire.Cue:
        """The next cue of ``kind``."""
        m = self.wait_for(lambda m: isinstance(m, wire.Cue) and m.kind == kind, f"{kind} cue")
        assert isinstance(m, wire.Cue)
        return m

    def drain(self) -> list[wire.Message]:
        """Everything received so far (including consumed-later), without waiting."""
        while True:
            try:
                self.seen.append(self.messages.get_nowait())
            except queue.Empty:
                return list(self.seen)

    def close(self) -> None:
        self.client.disconnect()   # first: it wakes the network loop, which then ends at once
        self.client.loop_stop()


@pytest.fixture
def listen(mosquitto: MqttSettings) -> Iterator[Callable[[str], Listener]]:
    listeners: list[Listener] = []

    def make(user: str, settings: MqttSettings = mosquitto) -> Listener:
        listener = Listener(settings, user)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture
def binary_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A tiny, learnable binary problem: 160 train rows, 60 validation rows."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(220, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=220) > 0).astype(int)
    return x[:160], y[:160], x[160:], y[160:]


class Recorded(NamedTuple):
    """What the history keeps of a run; compares equal to a plain tuple of the same values."""

    status: str
    dataset: str | None
    metric: str | None
    higher_is_better: bool | None
    scored: list[int]  # iterations that have a score, ascending


@pytest.fixture
def recorded(tmp_path: Path) -> Callable[[], Recorded]:
    """Reads back the one run an adapter test trained into ``tmp_path`` (fails unless one)."""

    def read() -> Recorded:
        store = HistoryStore.in_dir(tmp_path)
        [run] = store.runs()
        return Recorded(run.status, run.dataset, run.metric, run.higher_is_better,
                        sorted(store.scores(run.run_id)))

    return read
