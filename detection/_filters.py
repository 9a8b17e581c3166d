"""Stateful IIR filtering of a few signal rows at a time, with as little overhead as possible.

The counter filters short batches (25 grid samples per second of stream), where the
validation and axis juggling of `scipy.signal.sosfilt` cost more than the filtering itself.
`filter_inplace` calls scipy's compiled second-order-section kernel directly on C-contiguous
rows when this scipy provides it, and falls back to the public `sosfilt` otherwise. Both
give identical results, and the state ``zi`` is carried by the caller, so a stream split
into any batches is filtered exactly as one piece.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.signal import sosfilt, sosfilt_zi

try:  # the compiled kernel behind sosfilt (scipy >= 1.x); optional fast path
    from scipy.signal._sosfilt import _sosfilt as _fused
    # Its float64 specialisation, which the fused function's dispatch would pick for these
    # arrays at every call (the dispatch costs a fifth of a short call).
    _kernel = _fused["double"]
except (ImportError, KeyError, TypeError):  # pragma: no cover - depends on the scipy build
    _kernel = None

__all__ = ["ew_sos", "filter_inplace", "steady_state"]


def steady_state(sos: np.ndarray, level: np.ndarray) -> np.ndarray:
    """State ``(rows, sections, 2)`` of a filter that has seen ``level`` (rows,) forever."""
    return np.ascontiguousarray(level[:, None, None] * sosfilt_zi(sos)[None, :, :])


def ew_sos(lam: float) -> np.ndarray:
    """Exponentially weighted mean ``y = lam * y + (1 - lam) * x`` as one SOS section."""
    return np.array([[1.0 - lam, 0.0, 0.0, 1.0, -lam, 0.0]])


def _filter_public(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """`filter_inplace` through the public `sosfilt` (a scipy without the kernel)."""
    out, zf = sosfilt(sos, x, axis=-1, zi=np.moveaxis(zi, 0, 1))
    x[...] = out
    zi[...] = np.moveaxis(zf, 1, 0)


filter_inplace: Callable[[np.ndarray, np.ndarray, np.ndarray], None] = (
    _filter_public if _kernel is None else _kernel)
"""``filter_inplace(sos, x, zi)``: filter each row of ``x`` (rows, n) in place; ``zi``
(rows, sections, 2) is updated in place. The caller owns both and keeps them C-contiguous
float64 (``zi`` from `steady_state` or ``np.zeros``), as the kernel requires, so nothing is
checked or copied here. The kernel itself where there is one: a Python function around it
cost a frame per call, four calls a batch."""
