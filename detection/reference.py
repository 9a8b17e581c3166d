"""The plain offline peak counter the data folder's README describes, as a baseline.

Mean removed, 1 Hz low-pass, the axis of largest variance, peaks at least 0.8 s apart with
prominence at least 0.3 x the 5-95 % range of that signal, no per-exercise tuning. It sees
the whole recording at once (offline), which only flatters it. The benchmarks run it beside
`RepCounter` in the same process so every figure is a ratio against it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

__all__ = ["reference_count"]


def reference_count(t: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Times (s) of the peaks the plain counter finds in one recording."""
    t = np.asarray(t, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64)
    if t.size < 16:
        return np.zeros(0)
    fs = 1.0 / float(np.median(np.diff(t)))
    x = acc - acc.mean(axis=0)
    sos = butter(4, min(1.0, 0.45 * fs), btype="lowpass", fs=fs, output="sos")
    y = sosfiltfilt(sos, x, axis=0)
    _, vecs = np.linalg.eigh(np.cov(y.T))
    s = y @ vecs[:, -1]
    lo, hi = np.percentile(s, [5, 95])
    peaks, _ = find_peaks(s, distance=max(1, int(0.8 * fs)), prominence=0.3 * (hi - lo))
    return t[peaks]
