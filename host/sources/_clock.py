"""Device time -> host time, robust to clock drift and notification bunching.

A BLE notification arrives some milliseconds after its last sample was taken; how many
varies (connection interval, retransmissions, the OS stack batching several notifications
into one wake-up). The smallest delays are the honest ones, so the mapper keeps the lower
envelope of ``arrival - device_time`` (the minimum per one-second bucket over a sliding
window) and fits a line through it: intercept = offset, slope = relative drift (crystal
error, or a nominal sample period that is not quite the real one). Output time follows that
line, but the counter must see a steady rate: the rep counter's decisions move when its
time axis is bent by a fraction of a percent (a 0.1 % stretch of a real recording changes
a few counts in a hundred). So the output is affine in device time for as long as it can
be: its rate changes only when the fitted one has moved away by more than ``rate_hold``,
its offset is left alone while it stays within ``hold_s`` of the fit, and only the excess
beyond that is *slewed* away, at most ``max_slew`` seconds per second. Arrival jitter of
tens of milliseconds then never bends the axis; a real drift does, rarely and gently.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["ClockMapper"]

RATE_SPAN_S = 10.0
"""Device-time span of arrivals before the output's rate may follow the fit: tens of
milliseconds of arrival jitter over a few seconds read as a rate error of a percent."""


class ClockMapper:
    """Map device timestamps (s) onto the host's monotonic clock (s).

    Parameters
    ----------
    window_s : float
        Device-time span of the lower envelope used for the fit (drift tracking memory).
    bucket_s : float
        Envelope resolution: one minimum per bucket.
    max_slew : float
        Largest correction rate, seconds per second (0.005 = the mapped rate may differ from
        the fitted one by 0.5 %).
    hold_s : float
        Offset error (output minus fit) left uncorrected: jitter of the lower envelope
        stays well inside it, so it never bends the output.
    rate_hold : float
        Relative rate change the fit must show before the output's rate follows it (the
        fit of a steady device wobbles by about 0.15 % under bunched arrivals).
    max_drift : float
        Largest relative rate error the fit may report (|slope|); larger slopes are clipped.
    jump_s : float
        Output more than this *behind* the fit re-anchors at once. Output ahead of the fit
        (the first packets came in late, so the anchor was late) is always slewed back:
        compressing time would squeeze samples together and fake fast motion.
    slope_step : float
        Largest change of the fitted rate per observation.

    Examples
    --------
    >>> m = ClockMapper()
    >>> m.observe(t_dev_last=0.02, arrival=100.05)
    >>> m.map(np.array([0.0, 0.01, 0.02])).round(3).tolist()
    [100.03, 100.04, 100.05]
    """

    def __init__(self, *, window_s: float = 30.0, bucket_s: float = 1.0,
                 max_slew: float = 0.005, max_drift: float = 0.05, jump_s: float = 1.0,
                 slope_step: float = 5e-4, hold_s: float = 0.1,
                 rate_hold: float = 0.003) -> None:
        self.slope_step = slope_step
        self.hold_s = hold_s
        self.rate_hold = rate_hold
        self.window_s = window_s
        self.bucket_s = bucket_s
        self.max_slew = max_slew
        self.max_drift = max_drift
        self.jump_s = jump_s
        self._buckets: deque[list[float]] = deque()  # [bucket id, device t, min offset]
        self._last_dev: float | None = None
        self._last_host: float | None = None
        self.slope = 0.0
        self.intercept = 0.0
        self.rate_slope = 0.0   # the output's rate - 1 (follows `slope` by steps)

    def reset(self) -> None:
        """Forget everything (the device clock restarted)."""
        self._buckets.clear()
        self._last_dev = None
        self.slope = 0.0
        self.rate_slope = 0.0

    def observe(self, t_dev_last: float, arrival: float) -> None:
        """Record that the sample taken at device time ``t_dev_last`` had arrived by ``arrival``."""
        offset = arrival - t_dev_last
        bid = math.floor(t_dev_last / self.bucket_s)
        if self._buckets and bid <= self._buckets[-1][0]:
            # Same bucket (or a reordered packet): only a new minimum matters, and it can
            # only lower the line - no refit needed until the bucket closes.
            last = self._buckets[-1]
            if offset < last[2]:
                last[1], last[2] = t_dev_last, offset
                self.intercept = min(self.intercept, offset - self.rate_slope * t_dev_last)
            return
        self._buckets.append([bid, t_dev_last, offset])
        while self._buckets[-1][1] - self._buckets[0][1] > self.window_s:
            self._buckets.popleft()
        self._fit()

    def _fit(self) -> None:
        b = np.asarray(self._buckets, dtype=np.float64)
        if len(b) >= 3 and b[-1, 1] - b[0, 1] >= 2 * self.bucket_s:
            x = b[:, 1] - b[-1, 1]
            xc = x - x.mean()
            sxx = float(xc @ xc)
            fitted = float(xc @ (b[:, 2] - b[:, 2].mean()) / sxx)
            spread = b[:, 2] - b[:, 2].mean() - fitted * xc
            # Standard error of the fitted rate: a change within three of them is jitter.
            noise = 3.0 * math.sqrt(float(spread @ spread) / max(1, len(b) - 2) / sxx)
            fitted = min(self.max_drift, max(-self.max_drift, fitted))
            # The rate itself changes gently too: a noisy early fit cannot jolt the output.
            self.slope += min(self.slope_step, max(-self.slope_step, fitted - self.slope))
            if (abs(self.slope - self.rate_slope) > self.rate_hold
                    and abs(fitted - self.rate_slope) > noise and -x[0] >= RATE_SPAN_S):
                self.rate_slope = self.slope
            # Lower envelope of the residuals keeps the line under the fastest arrivals. It
            # runs at the output's rate: a fitted rate that is still jitter must not pull
            # the offset the output is held to.
            resid = b[:, 2] - self.rate_slope * x
            self.intercept = float(np.min(resid)) - self.rate_slope * b[-1, 1]
        else:
            self.intercept = float(np.min(b[:, 2]))

    def target(self, t_dev: float) -> float:
        """Host time the current fit assigns to device time ``t_dev`` (no slewing)."""
        return t_dev + self.intercept + self.rate_slope * t_dev

    def map(self, t_dev: np.ndarray) -> np.ndarray:
        """Host times for consecutive device times ``t_dev`` (shape ``(n,)``, increasing)."""
        t_dev = np.asarray(t_dev, dtype=np.float64)
        if t_dev.size == 0:
            return t_dev.copy()
        if not self._buckets:
            raise RuntimeError("observe() at least one arrival before map()")
        d0 = float(t_dev[0])
        rate = 1.0 + self.rate_slope
        if self._last_dev is None or self._last_host is None or d0 <= self._last_dev:
            out = self.target(d0) + (t_dev - d0) * rate
        else:
            err = self.target(d0) - (self._last_host + (d0 - self._last_dev) * rate)
            if err > self.jump_s:
                # Far behind (an outage the device clock did not reflect): catch up at once.
                out = self.target(d0) + (t_dev - d0) * rate
            else:
                # Close what lies beyond ``hold_s`` over about a second, never faster than
                # max_slew: every interval stays within max_slew of the output's rate.
                excess = err - min(self.hold_s, max(-self.hold_s, err))
                corr = min(self.max_slew, max(-self.max_slew, excess))
                out = self._last_host + (t_dev - self._last_dev) * (rate + corr)
        if self._last_host is not None and out[0] <= self._last_host:
            out = out + (self._last_host + 1e-6 - out[0])
        self._last_dev = float(t_dev[-1])
        self._last_host = float(out[-1])
        return out
