"""Sequencing by sample counter: duplicates dropped, reordering repaired, gaps counted.

Pure bookkeeping on absolute sample indices; it never looks at the samples themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Release", "Sequencer"]

P = TypeVar("P")


@dataclass(frozen=True)
class Release(Generic[P]):
    """A packet let through: ``skip`` leading samples were already delivered (overlap)."""

    index: int
    n: int
    payload: P
    lost_before: int
    skip: int = 0


class Sequencer(Generic[P]):
    """Orders packets by their first sample index and counts what is missing.

    A packet that starts exactly where the stream stands is released at once (the normal
    case costs no latency). One that starts later is held until the missing packet arrives
    or ``reorder_depth`` later packets have piled up; then the gap is declared lost and the
    held packets go out with ``lost_before`` set. Packets entirely before the stream
    position are duplicates or too late and are dropped; a packet overlapping the position
    (a resend after reconnect) is released with its delivered head skipped.

    Parameters
    ----------
    reorder_depth : int
        Packets to wait for a missing one before calling it lost (0 = never wait).
    restart_margin : int
        After `resync`, a packet starting more than this many samples *before* the stream
        position means the device restarted its counter (a resent backlog is never that
        old): the stream restarts there, counted in ``restarts``.
    """

    def __init__(self, reorder_depth: int = 3, restart_margin: int = 2048) -> None:
        self.reorder_depth = reorder_depth
        self.restart_margin = restart_margin
        self.restarts = 0
        self.expected: int | None = None
        self._held: dict[int, tuple[int, P]] = {}
        self._resync = False
        self.duplicates = 0
        self.late = 0
        self.lost = 0

    def resync(self) -> None:
        """The link was re-established: the next packet starts the stream again at once."""
        self._resync = True

    def push(self, index: int, n: int, payload: P) -> list[Release[P]]:
        """Offer a packet of ``n`` samples starting at ``index``; return what can go out."""
        if self.expected is None:
            self.expected = index
        end = index + n
        if self._resync and index < self.expected - self.restart_margin:
            self.restarts += 1
            self._held.clear()
            self.expected = index
        if end <= self.expected:
            if index in self._held or self._resync:
                self.duplicates += 1
            else:
                self.late += 1
            return []
        if index > self.expected and not self._resync:
            if index in self._held:
                self.duplicates += 1
                return []
            self._held[index] = (n, payload)
            out: list[Release[P]] = []
            while len(self._held) > self.reorder_depth:
                out.extend(self._release_earliest())
            return out
        self._resync = False
        out = [self._emit(index, n, payload)]
        out.extend(self._drain())
        return out

    def flush(self) -> list[Release[P]]:
        """Release everything held (end of a connection), declaring the holes lost."""
        out: list[Release[P]] = []
        while self._held:
            out.extend(self._release_earliest())
        return out

    def _emit(self, index: int, n: int, payload: P) -> Release[P]:
        assert self.expected is not None
        lost = max(0, index - self.expected)
        skip = max(0, self.expected - index)
        self.lost += lost
        self.expected = index + n
        return Release(index=index, n=n, payload=payload, lost_before=lost, skip=skip)

    def _drain(self) -> list[Release[P]]:
        out: list[Release[P]] = []
        assert self.expected is not None
        while True:
            ready = [i for i in self._held if i <= self.expected]
            if not ready:
                return out
            for i in sorted(ready):
                n, payload = self._held.pop(i)
                if i + n <= self.expected:
                    self.duplicates += 1
                    continue
                out.append(self._emit(i, n, payload))

    def _release_earliest(self) -> list[Release[P]]:
        i = min(self._held)
        n, payload = self._held.pop(i)
        return [self._emit(i, n, payload), *self._drain()]
