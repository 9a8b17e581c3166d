"""Admission of sample batches: how many devices, and how many samples a second each.

Anyone who can publish on a user's ``samples`` topics can invent device names and stream as
fast as the broker carries. `SampleGate` bounds both before any counting work is done:

- at most ``max_devices`` devices hold a place at once. A device that streams like a
  wearable (its recent samples, decayed over ``activity_tau_s``, reach ``steady_samples``)
  keeps its place; a place held by a device that sent a stray sample or fell silent is given
  to the next new device. So invented names, each sending once, cannot lock a real wearable
  out, and the real one, once streaming, cannot be pushed out. When every place is held by
  a streaming device, new ones are ignored;
- each device gets ``max_rate_hz`` samples a second on average (a token bucket that allows
  a burst of ``burst_s`` seconds).

Refusals are logged with one rate-limited line per kind of refusal, never one line per device
name. Places that change hands are listed in `evicted` so the host can drop what it kept for
those devices.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from repfit.host.log_limit import RateLimitedLog

__all__ = ["MAX_CUES_HZ", "MAX_DEVICES", "MAX_PENDING", "MAX_RATE_HZ", "SampleGate",
           "TokenBucket"]

log = logging.getLogger(__name__)

#: Devices that may stream for one user at once (a wrist, a thigh, a phone and a spare).
MAX_DEVICES = 4
#: Samples per second allowed per device: five times the fastest wearable repfit knows
#: (200 Hz), so recordings replayed faster than real time still pass.
MAX_RATE_HZ = 1000.0


#: Assignments waiting behind the open one at most; more are refused with one line.
MAX_PENDING = 64
#: Cues a second passed on to the display and the player (a metronome ticks at 1-2 a second).
MAX_CUES_HZ = 5.0


@dataclass
class TokenBucket:
    """``rate`` units a second on average, ``capacity`` at once."""

    rate: float
    capacity: float
    tokens: float = -1.0
    last: float | None = None

    def take(self, amount: float, now: float) -> bool:
        if self.last is None or self.tokens < 0:
            self.tokens = self.capacity
        else:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


@dataclass
class _Slot:
    last_seen: float
    bucket: TokenBucket
    activity: float = 0.0


class SampleGate:
    """Decide, batch by batch, whether samples are counted.

    Parameters
    ----------
    max_devices : int
        Devices admitted at once.
    max_rate_hz : float
        Average samples per second per device.
    burst_s : float
        Seconds of samples a device may send at once above the average (a reconnect flush).
    steady_samples : float
        Recent samples (decayed) from which a device counts as streaming and keeps its
        place. A wearable's batch (10-50 samples) reaches it at once.
    activity_tau_s : float
        Time constant of that decay.
    clock : callable
        Monotonic seconds; injectable for tests.
    """

    def __init__(self, *, max_devices: int = MAX_DEVICES, max_rate_hz: float = MAX_RATE_HZ,
                 burst_s: float = 10.0, steady_samples: float = 8.0,
                 activity_tau_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_devices = max_devices
        self.max_rate_hz = max_rate_hz
        self.burst = max_rate_hz * burst_s
        self.steady_samples = steady_samples
        self.activity_tau_s = activity_tau_s
        self.clock = clock
        self.refused_devices = 0
        self.refused_samples = 0
        #: Devices whose place went to another since the host last looked (it clears this).
        self.evicted: list[str] = []
        self._slots: dict[str, _Slot] = {}
        self._limiter = RateLimitedLog(log, interval_s=30.0)

    @property
    def devices(self) -> list[str]:
        """Devices holding a place now."""
        return list(self._slots)

    def admit(self, device: str, samples: int, *, local: bool = False) -> bool:
        """True when this batch of ``samples`` from ``device`` is to be counted: the device
        has a place, is within its rate, and streams (its recent samples reach
        ``steady_samples``; the samples of a device's first small batches are not counted).
        A ``local`` source (a wearable or phone the host was told to use) names itself, so
        its first samples count at once: a 10 Hz phone's first pushes carry 2-3 samples."""
        now = self.clock()
        slot = self._slots.get(device)
        if slot is None:
            if len(self._slots) >= self.max_devices and not self._free_a_place(now):
                self.refused_devices += 1
                self._limiter.warning(
                    "devices", "ignoring samples from new devices: %d already streaming "
                    "(%s; at most %d at once)", len(self._slots), ", ".join(self._slots),
                    self.max_devices)
                return False
            slot = self._slots[device] = _Slot(now, TokenBucket(self.max_rate_hz, self.burst))
        slot.activity = self._activity(slot, now) + samples
        slot.last_seen = now
        if not slot.bucket.take(samples, now):
            self.refused_samples += samples
            self._limiter.warning(
                f"rate|{device}", "ignoring samples from %s: more than %g samples a second",
                device, self.max_rate_hz)
            return False
        # A place, but no counting work, until the device streams: a stray sample under an
        # invented name costs no detector.
        return local or slot.activity >= self.steady_samples

    def _activity(self, slot: _Slot, now: float) -> float:
        return slot.activity * math.exp(-(now - slot.last_seen) / self.activity_tau_s)

    def _free_a_place(self, now: float) -> bool:
        """Give up the place of the least active device that is not streaming, if any."""
        name, activity = min(((d, self._activity(s, now)) for d, s in self._slots.items()),
                             key=lambda item: item[1])
        if activity >= self.steady_samples:
            return False
        del self._slots[name]
        if len(self.evicted) < 4 * self.max_devices:
            self.evicted.append(name)
        return True
