"""Admission of sample batches: how many devices, and how many samples a second each.

Anyone who can publish on a user's ``samples`` topics can invent device names and stream as
fast as the broker carries. `SampleGate` bounds both before any counting work is done: at most
``max_devices`` devices stream at once (a device holds its place while it keeps sending;
``idle_s`` of silence frees it), and each device gets ``max_rate_hz`` samples a second on
average (a token bucket that allows a burst of ``burst_s`` seconds). Refusals are logged with
one rate-limited line per kind of refusal, never one line per device name.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from repfit.host.log_limit import RateLimitedLog

__all__ = ["MAX_DEVICES", "MAX_RATE_HZ", "SampleGate"]

log = logging.getLogger(__name__)

#: Devices that may stream for one user at once (a wrist, a thigh, a phone and a spare).
MAX_DEVICES = 4
#: Samples per second allowed per device: five times the fastest wearable repfit knows
#: (200 Hz), so recordings replayed faster than real time still pass.
MAX_RATE_HZ = 1000.0


@dataclass
class _Slot:
    last_seen: float
    tokens: float


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
    idle_s : float
        Silence after which a device gives its place up.
    clock : callable
        Monotonic seconds; injectable for tests.
    """

    def __init__(self, *, max_devices: int = MAX_DEVICES, max_rate_hz: float = MAX_RATE_HZ,
                 burst_s: float = 10.0, idle_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_devices = max_devices
        self.max_rate_hz = max_rate_hz
        self.burst = max_rate_hz * burst_s
        self.idle_s = idle_s
        self.clock = clock
        self.refused_devices = 0
        self.refused_samples = 0
        self._slots: dict[str, _Slot] = {}
        self._limiter = RateLimitedLog(log, interval_s=30.0)

    @property
    def devices(self) -> list[str]:
        """Devices holding a place now."""
        return list(self._slots)

    def admit(self, device: str, samples: int) -> bool:
        """True when this batch of ``samples`` from ``device`` is to be counted."""
        now = self.clock()
        slot = self._slots.get(device)
        if slot is None:
            for name in [d for d, s in self._slots.items() if now - s.last_seen >= self.idle_s]:
                del self._slots[name]
            if len(self._slots) >= self.max_devices:
                self.refused_devices += 1
                self._limiter.warning(
                    "devices", "ignoring samples from new devices: %d already streaming "
                    "(%s; at most %d at once)", len(self._slots), ", ".join(self._slots),
                    self.max_devices)
                return False
            slot = self._slots[device] = _Slot(now, self.burst)
        slot.tokens = min(self.burst, slot.tokens + (now - slot.last_seen) * self.max_rate_hz)
        slot.last_seen = now
        if samples > slot.tokens:
            self.refused_samples += samples
            self._limiter.warning(
                f"rate|{device}", "ignoring samples from %s: more than %g samples a second",
                device, self.max_rate_hz)
            return False
        slot.tokens -= samples
        return True
