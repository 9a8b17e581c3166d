"""One set's samples, kept after its result so its plot (`repfit.host.charts.set_png`: the
signal and the counted reps) can be drawn later: by the live page, and by an accountability
post with a picture (stored with the post, drawn when it is sent).

`SetRecorder` keeps the open set's sample batches (bounded) while it runs; `SetSamples` is
the settled set, with a compact byte form for the store (`to_bytes` / `from_bytes`: numpy's
compressed archive, read back without pickle).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from repfit import wire
from repfit.exercises import display_name
from repfit.host.session import counter_exercise

__all__ = ["SetRecorder", "SetSamples", "SetSamplesError"]


class SetSamplesError(ValueError):
    """Stored bytes that are not a set's samples."""


@dataclass(frozen=True, eq=False)
class SetSamples:
    """A settled set's samples: ``t`` (device clock, s) and ``acc`` (n x 3, g) of the device
    that was counted, and the times of the reps the host counted live."""

    assignment_id: str
    exercise: str           # the counter's profile
    title: str              # the user's name for it
    t: np.ndarray
    acc: np.ndarray
    rep_times: tuple[float, ...] = ()

    def to_bytes(self) -> bytes:
        """A compressed archive: times as float64 (a device clock needs the digits),
        acceleration as float32 (the sensor has fewer)."""
        out = io.BytesIO()
        np.savez_compressed(out, t=self.t.astype(np.float64), acc=self.acc.astype(np.float32),
                            rep_times=np.asarray(self.rep_times, dtype=np.float64),
                            meta=np.array([self.assignment_id, self.exercise, self.title]))
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SetSamples:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                t, acc, reps, meta = z["t"], z["acc"], z["rep_times"], z["meta"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise SetSamplesError(f"not a set's samples ({type(exc).__name__})") from None
        if acc.ndim != 2 or acc.shape != (len(t), 3) or meta.shape != (3,):
            raise SetSamplesError(f"not a set's samples (shapes {t.shape}, {acc.shape})")
        return cls(str(meta[0]), str(meta[1]), str(meta[2]), t, acc.astype(np.float64),
                   tuple(float(x) for x in reps))


class SetRecorder:
    """The open set's samples (bounded), settled into `SetSamples` by its result.

    Fed from the host's event loop: `progress` (the open set and its rep times so far),
    `samples` (every batch), `result` (the set ends: its samples, or None when there were
    none or the result is of another set).
    """

    MAX_SAMPLES = 250_000   # about 40 minutes at 100 Hz

    def __init__(self) -> None:
        self.open: wire.Progress | None = None
        self.batches: dict[str, list[wire.SampleBatch]] = {}
        self.samples_kept = 0
        self.rep_times: tuple[float, ...] = ()
        #: The last settled set.
        self.done: SetSamples | None = None

    def progress(self, p: wire.Progress, rep_times: Sequence[float] = ()) -> None:
        """The open set's progress and the times (device clock) of the reps the host
        counted so far."""
        if self.open is None or self.open.assignment_id != p.assignment_id:
            self.batches, self.samples_kept = {}, 0
        self.open = p
        self.rep_times = tuple(rep_times)

    def samples(self, batch: wire.SampleBatch) -> None:
        if self.open is not None and self.samples_kept < self.MAX_SAMPLES:
            self.batches.setdefault(batch.device, []).append(batch)
            self.samples_kept += len(batch)

    def result(self, r: wire.Result) -> SetSamples | None:
        if self.open is None or self.open.assignment_id != r.assignment_id:
            return None
        settled = None
        if self.batches:   # the device that sent the most: the one that was counted
            batches = max(self.batches.values(), key=lambda bs: sum(len(b) for b in bs))
            t = np.concatenate([b.t for b in batches])
            acc = np.concatenate([b.acc for b in batches])
            # Batches overlap after a gap (the wearable sends again what was not
            # acknowledged): keep each sample later than every one before it.
            keep = t > np.maximum.accumulate(np.concatenate([[-np.inf], t[:-1]]))
            settled = self.done = SetSamples(
                r.assignment_id, counter_exercise(r.exercise),
                display_name(r.exercise, r.label), t[keep], acc[keep], self.rep_times)
        self.open, self.batches, self.samples_kept = None, {}, 0
        return settled
