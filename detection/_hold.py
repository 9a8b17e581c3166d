"""Static holds (plank): seconds spent in a stable, plank-like posture.

Decided on fixed blocks of the uniform grid (~0.5 s), so batch splits do not matter:

- **still**: the acceleration's spread about its block mean is at most
  ``MAX_MOTION_G`` and its magnitude is gravity (0.8-1.2 g);
- **in posture**: gravity's direction stays within ``MAX_TILT_DEG`` of the direction the
  hold started in; a hold starts after two still blocks in the same direction;
- **plank-like**: that direction is at least ``MIN_POSTURE_CHANGE_DEG`` away from the
  first still posture of the stream (standing or sitting when the assignment came).
  Getting down into a plank turns the trunk and thighs ~90 degrees and the forearm or upper
  arm well over 45; standing, sitting or leaving the device on a table does not.

A block that is not still or that tilts away breaks the hold (time pauses, with a
reason); the seconds already held are kept.
"""

from __future__ import annotations

import math

import numpy as np

from ._events import Rejection

__all__ = ["HoldTracker"]

MAX_MOTION_G = 0.12
"""Motion (rms about the block mean, g) above which the posture is not held."""
MAX_TILT_DEG = 20.0
"""Tilt away from the hold's direction that breaks it."""
MIN_POSTURE_CHANGE_DEG = 45.0
"""How far from the stream's first posture a plank must be."""


class HoldTracker:
    """Accumulates held seconds from blocks of (n, 3) samples in g."""

    def __init__(self, block_s: float, exercise: str) -> None:
        self.block_s = block_s
        self.exercise = exercise
        self.seconds = 0.0
        self.home: np.ndarray | None = None      # first still posture of the stream
        self.ref: np.ndarray | None = None       # posture of the current hold
        self.prev: np.ndarray | None = None      # direction of the previous still block
        self.told_posture = False

    def reset_run(self) -> None:
        """After a gap: the hold must be re-established (the first posture is kept)."""
        self.ref = self.prev = None

    def block(self, b: np.ndarray, t: float, rejected: list[Rejection]) -> None:
        mean = b.mean(axis=0)
        mag = float(math.sqrt(float(mean @ mean)))
        motion = float(np.sqrt(((b - mean) ** 2).sum(axis=1).mean()))
        still = motion <= MAX_MOTION_G and 0.8 <= mag <= 1.2
        d = mean / mag if mag > 0 else mean
        cos_tol = math.cos(math.radians(MAX_TILT_DEG))
        if still and self.home is None and self.prev is not None and d @ self.prev >= cos_tol:
            self.home = self.prev
        plank_like = self.home is not None and float(d @ self.home) <= math.cos(
            math.radians(MIN_POSTURE_CHANGE_DEG))
        if still and self.ref is not None and float(d @ self.ref) >= cos_tol:
            self.seconds += self.block_s
        elif still and plank_like and self.prev is not None and float(d @ self.prev) >= cos_tol:
            self.ref = self.prev                 # two steady blocks in a row: the hold starts
            self.seconds += self.block_s
        else:
            if self.ref is not None:
                tilt = math.degrees(math.acos(max(-1.0, min(1.0, float(d @ self.ref)))))
                reason = (f"{self.exercise} broken: moving ({motion:.2f} g)" if not still else
                          f"{self.exercise} broken: tilted {tilt:.0f} degrees")
                rejected.append(Rejection(t, reason, motion))
            elif still and not plank_like and self.home is not None and self.prev is not None \
                    and not self.told_posture and self.seconds == 0.0 and d @ self.prev > cos_tol:
                rejected.append(Rejection(t, (
                    f"not a {self.exercise} posture yet: still in the starting orientation "
                    f"(get down: the body turns ~90 degrees)"), 0.0))
                self.told_posture = True
            self.ref = None
        self.prev = d if still else None
