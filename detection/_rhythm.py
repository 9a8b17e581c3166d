"""The pace of the movement: autocorrelation of the last few seconds, on a bounded buffer.

A rep is one period of the movement, however many bumps it has inside (a burpee goes down,
back, in, up and jumps; a band row pulls and releases with a wobble). The autocorrelation
of the movement signal over the last ``WINDOW_S`` seconds peaks at the rep period,
and its height says how rhythmic the motion is (1 = perfectly repeating). The set tracker
uses the period to treat bumps closer than a fraction of it as parts of one rep, and to
start a set only on reps that keep it. Three answers: a period; None while the window is
too short to hold every plausible period; `NO_RHYTHM` once it holds them all and neither
it nor its recent half (where a set that just began is not diluted by older motion)
repeats clearly.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.fft import next_fast_len

try:  # numpy >= 2: the ufuncs behind np.fft, without its per-call Python layer
    from numpy.fft import _pocketfft_umath as _pfu  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the numpy version
    _pfu = None

__all__ = ["RhythmTracker"]

WINDOW_S = 16.0
"""Seconds of movement kept (room for two periods of the slowest common rep, ~8 s)."""
MIN_STRENGTH = 0.3
"""Autocorrelation height below which the motion has no usable rhythm."""
HARMONIC = 0.9
"""A shorter period wins when its peak reaches this fraction of the highest one..."""
HARMONIC_FEW_PERIODS = 0.6
"""... or this fraction, when the window holds fewer than three of the highest one's."""
NO_RHYTHM = 0.0
"""The period when the full lag range holds no peak of ``MIN_STRENGTH``, in the window nor
in its recent half: the movement does not repeat at any pace the exercise allows. Falsy
like None, which means instead that the window is still too short to tell."""


class RhythmTracker:
    """Fixed-size ring buffer of movement samples and its autocorrelation period.

    `push` and `update` work at once. A streaming owner that re-estimates on a fixed
    schedule but reads the period only now and then can instead `mark` each re-estimate
    and ask `period_at` when it needs one: only marks asked for are computed, from the
    window as it was at the mark (blocks pushed meanwhile wait in a short queue), so the
    answers are those of calling `update` at every mark. The period is a function of the
    window alone: `update` keeps an earlier value only while the buffer is too short,
    and then every earlier call kept the initial None too.
    """

    def __init__(self, fs_hz: float, min_period_s: float, max_period_s: float) -> None:
        self.fs = fs_hz
        self.n = int(WINDOW_S * fs_hz)
        self.buf = np.zeros(self.n)
        self.filled = 0
        self.pos = 0
        self.lag_lo = max(1, round(min_period_s * fs_hz))
        self.lag_hi = min(int(max_period_s * fs_hz), self.n // 2)
        # Zero-padding to n + lag_hi keeps lags up to lag_hi free of wrap-around (the
        # circular autocorrelation at lag l adds the linear one at nfft - l >= n, which is
        # zero); an even 5-smooth length is a third cheaper than the next power of two.
        self.nfft = 2 * next_fast_len(-(-(self.n + self.lag_hi) // 2), real=True)
        self._spec = np.empty(self.nfft // 2 + 1, dtype=complex)
        self._sq = np.empty((self.nfft // 2 + 1, 2))
        # Views made once: the spectrum as (re, im) pairs, and the columns of their squares.
        self._spec_ri = self._spec.view(np.float64).reshape(-1, 2)
        self._sq_re, self._sq_im = self._sq[:, 0], self._sq[:, 1]
        self._power = np.empty(self.nfft // 2 + 1)
        self._ac = np.empty(self.nfft)
        n_inner = max(0, self.lag_hi - self.lag_lo - 1)   # lags with two neighbours
        self._ge = np.empty(n_inner, dtype=bool)            # peak tests, reused
        self._gt = np.empty(n_inner, dtype=bool)
        self.period_s: float | None = None
        self.strength = 0.0
        self._held: int | None = None        # unanswered mark the buffer stands at
        self._queue: deque[np.ndarray | int] = deque()  # blocks and marks after it
        self._answer: tuple[int, float | None] = (-1, None)  # last mark asked for

    def push(self, b: np.ndarray) -> None:
        """Append a block of samples (shorter than the window; kept by reference while
        a mark before it is unanswered, so the caller must not change it)."""
        if self._held is None:
            self._write(b)
        else:
            self._queue.append(b)

    def mark(self, mark: int) -> None:
        """A re-estimate is due here; ``mark`` (increasing) names it for `period_at`."""
        if self._held is None:
            self._held = mark
        else:
            self._queue.append(mark)

    def period_at(self, mark: int) -> float | None:
        """The period `update` would have found at ``mark`` (marks asked for never go
        back in time)."""
        if self._answer[0] == mark:
            return self._answer[1]
        self.settle(mark)
        if self._held != mark:
            raise RuntimeError(f"the window at mark {mark} was already released (marks are "
                               "asked for in order, before `settle` passes them)")
        self.update()
        self._answer = (mark, self.period_s)
        self._release()
        return self.period_s

    def settle(self, keep: int | None) -> None:
        """Marks before ``keep`` will not be asked for: drop them (bounds the queue)."""
        while self._held is not None and keep is not None and self._held < keep:
            self._release()

    def _release(self) -> None:
        """The held mark is answered or dropped: apply what waited, up to the next mark."""
        self._held = None
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, int):
                self._held = item
                return
            self._write(item)

    def _write(self, b: np.ndarray) -> None:
        m = b.size
        end = self.pos + m
        if end <= self.n:
            self.buf[self.pos:end] = b
        else:
            cut = self.n - self.pos
            self.buf[self.pos:] = b[:cut]
            self.buf[:m - cut] = b[cut:]
        self.pos = end % self.n
        self.filled = min(self.n, self.filled + m)

    def reset(self) -> None:
        self._held, self._queue, self._answer = None, deque(), (-1, None)
        self.filled = 0
        self.pos = 0
        self.period_s = None
        self.strength = 0.0

    def update(self) -> None:
        """Re-estimate the period from the buffer (biased autocorrelation)."""
        m = self.filled
        if m < 2 * self.lag_lo + 2:
            return
        x = (np.concatenate((self.buf[self.pos:], self.buf[:self.pos]))
             if m == self.n else self.buf[:m])
        hi = min(self.lag_hi, m // 2)
        if hi <= self.lag_lo:
            return
        lag, strength = self._fundamental(x, hi)
        full = hi == self.lag_hi        # every plausible period was searched
        if full and strength < MIN_STRENGTH:
            # No clear period in the whole window. A set that began after other motion
            # (typing, walking) may already repeat in the window's recent half, where the
            # older motion does not dilute it: look there before saying there is none.
            recent = x[m - m // 2:]
            lag_r, strength_r = self._fundamental(recent, min(self.lag_hi, recent.size // 2))
            if strength_r >= MIN_STRENGTH:
                lag, strength = lag_r, strength_r
        self.strength = strength
        if strength >= MIN_STRENGTH:
            self.period_s = lag / self.fs
        else:
            # "No rhythm" only once every plausible period was searched; a shorter window
            # may yet show one.
            self.period_s = NO_RHYTHM if full else None

    def _fundamental(self, x: np.ndarray, hi: int) -> tuple[int, float]:
        """Lag (samples, ``lag_lo``..``hi``) of the rep period's peak in the autocorrelation
        of ``x``, and its height (1 = perfectly repeating); (0, 0.0) when there is none."""
        m = x.size
        ac = self._autocorr(x - np.add.reduce(x, None) / m)  # x.mean(), without wrappers
        if ac[0] <= 1e-12:
            return 0, 0.0
        # Biased estimate (each lag divided by the whole window, not by its overlap): the
        # long lags, which rest on fewer samples, count a little less. Peaks are compared
        # unscaled; only the chosen one is divided by lag 0.
        seg = ac[self.lag_lo:hi + 1]
        # Only a local maximum is a period: at the range's edges the curve may still be
        # falling from lag 0 (one slow movement, then rest) or rising to a longer lag.
        inner = seg[1:-1]
        ge, gt = self._ge[:inner.size], self._gt[:inner.size]
        np.greater_equal(inner, seg[:-2], ge)
        np.greater(inner, seg[2:], gt)
        np.logical_and(ge, gt, ge)
        peaks = ge.nonzero()[0]            # the method skips np.flatnonzero's wrappers
        if peaks.size == 0:
            return 0, 0.0
        heights = inner.take(peaks)
        # The fundamental: the shortest lag whose peak is nearly as high as the best one
        # (a sloppy rep makes two periods correlate a little better than one). How near
        # depends on the evidence for the best: only a window holding three of its periods
        # compares each rep with the next twice; in a shorter one (a set's first seconds)
        # a rep or two of uneven depth can lift a multiple of the period above it.
        i_top = int(heights.argmax())
        top = self.lag_lo + 1 + int(peaks[i_top])
        frac = HARMONIC if 3 * top <= m else HARMONIC_FEW_PERIODS
        near = np.greater_equal(heights, frac * float(heights[i_top]), gt[:heights.size])
        best = 1 + int(peaks[int(near.argmax())])
        return self.lag_lo + best, float(seg[best]) / float(ac[0])

    def _autocorr(self, x: np.ndarray) -> np.ndarray:
        """Circular autocorrelation of ``x`` zero-padded to ``nfft`` (linear up to lag
        ``nfft - len(x)``). Calls numpy's FFT ufuncs directly where they exist: the public
        wrappers cost as much as the transforms at this size. Same results either way."""
        n = self.nfft
        if _pfu is None or n % 2:
            spec = np.fft.rfft(x, n)
            return np.fft.irfft(spec.real * spec.real + spec.imag * spec.imag, n)
        _pfu.rfft_n_even(x, 1, out=self._spec)     # the output length sets the padding
        np.square(self._spec_ri, self._sq)           # |spectrum|^2 = re^2 + im^2
        np.add(self._sq_re, self._sq_im, self._power)
        _pfu.irfft(self._power, 1.0 / n, out=self._ac)
        return self._ac
