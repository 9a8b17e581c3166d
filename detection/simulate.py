"""Synthetic accelerometer recordings of exercises and of everyday motion.

Pure functions (no I/O, no clock): the host's simulated wearable, the demo, the tests and the
benchmarks all draw their motion from here. The model is kinematic rather than
statistical: each exercise moves a body segment (pivot translation plus a hinge rotation)
through key poses; the device is strapped to that segment in a random orientation; what it
measures is the specific force ``R^T (a_world + g)`` in g, plus landing impacts, bias, noise
and range clipping. Because the same physics produces gravity changes (segment tilt) and
linear acceleration (translation, centripetal terms), the counter sees the mixture a real
sensor sees, in any orientation.

Public names: `Recording`, `simulate_set`, `simulate_activity`, `SIM_EXERCISES`,
`SIM_ACTIVITIES`, `POSITIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from ._positions import POSITIONS, sensor_position

__all__ = [
    "POSITIONS",
    "SIM_ACTIVITIES",
    "SIM_EXERCISES",
    "Recording",
    "simulate_activity",
    "simulate_set",
]

G_MS2 = 9.80665


@dataclass(frozen=True)
class Recording:
    """A synthetic recording with its ground truth.

    Attributes
    ----------
    t : numpy.ndarray
        Sample times in seconds, shape ``(n,)``.
    acc : numpy.ndarray
        Specific force in g, shape ``(n, 3)``, in the device's own (random) axes.
    rep_times : numpy.ndarray
        Time of each rep's turning point (bottom of a squat or push-up, top of a sit-up,
        arms overhead in a jumping jack, the plank of a burpee). Empty for holds and
        everyday activities.
    exercise : str
        Exercise or activity name.
    position : str
        Where the device is worn.
    fs_hz : float
        Nominal sample rate.
    hold_s : float
        Seconds actually held in the posture (holds only, else 0).
    sloppy_times : numpy.ndarray
        Turning points of the shallow, irregular reps.
    done_times : numpy.ndarray
        Time each rep is complete: the body back in the pose the set started from (what
        the user feels as "done"; the latency of a count is measured from it). Same length
        as ``rep_times``; empty for holds and everyday activities.
    """

    t: np.ndarray
    acc: np.ndarray
    rep_times: np.ndarray
    exercise: str
    position: str
    fs_hz: float
    hold_s: float = 0.0
    sloppy_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    done_times: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def reps(self) -> int:
        return int(self.rep_times.size)


# --------------------------------------------------------------------------------------------
# Motion models: key poses of one rep, per exercise and device position.
#
# Each model gives keyframes over the rep phase u in [0, 1] for the pivot displacement
# (px forward, pz up, metres), a pitch ``theta`` about the body's lateral axis and an
# abduction ``phi`` about its forward axis (degrees), the device's lever from the pivot in the
# start pose (metres, world axes: x forward, y left, z up), the base tilt of the segment
# (``base_pitch``: 0 standing, 90 face-down horizontal, -90 lying on the back) and the
# phases at which feet or hands land (impact amplitude in g).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    u: tuple[float, ...]
    px: tuple[float, ...]
    pz: tuple[float, ...]
    theta: tuple[float, ...]
    phi: tuple[float, ...]
    lever: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_pitch: float = 0.0
    impacts: tuple[tuple[float, float], ...] = ()
    turn_u: float = 0.5


def _simple(depth_z: float, pitch: float, *, lever: tuple[float, float, float] = (0, 0, 0),
            base_pitch: float = 0.0, px: float = 0.0, phi: float = 0.0,
            impacts: tuple[tuple[float, float], ...] = ()) -> _Model:
    """A one-turning-point rep: start pose, turning point at mid-rep, back (down phase a
    little slower than the way up, as people lower with control)."""
    return _Model(u=(0.0, 0.55, 1.0), px=(0.0, px, 0.0), pz=(0.0, depth_z, 0.0),
                  theta=(0.0, pitch, 0.0), phi=(0.0, phi, 0.0), lever=lever,
                  base_pitch=base_pitch, impacts=impacts, turn_u=0.55)


_ARM = (0.0, 0.0, -0.6)
_UPPER = (0.0, 0.0, -0.15)

_MODELS: dict[str, dict[str, _Model]] = {
    "squat": {
        # Hips drop ~0.4 m; arms rise forward for balance; the thigh goes near horizontal.
        "wrist": _simple(-0.40, 75.0, lever=_ARM),
        "upper_arm": _simple(-0.40, 70.0, lever=_UPPER),
        "chest": _simple(-0.40, 35.0, px=-0.05),
        "thigh": _simple(-0.25, 80.0, lever=(0.0, 0.0, -0.2), px=0.05),
    },
    "pushup": {
        # Face-down plank; chest drops ~0.3 m. The hand stays on the floor, so the wrist
        # only tilts with the forearm; the upper arm swings about the shoulder.
        "wrist": _simple(0.0, -35.0, base_pitch=0.0),
        "upper_arm": _simple(-0.30, -45.0, lever=_UPPER),
        "chest": _simple(-0.30, 5.0, base_pitch=90.0),
        "thigh": _simple(-0.15, 10.0, lever=(0.6, 0.0, 0.0), base_pitch=90.0),
    },
    "situp": {
        # Lying on the back, torso curls up ~75 degrees about the hips; feet anchored.
        "wrist": _simple(0.0, 75.0, lever=(-0.35, 0.0, 0.0), base_pitch=-90.0),
        "upper_arm": _simple(0.0, 75.0, lever=(-0.40, 0.0, 0.0), base_pitch=-90.0),
        "chest": _simple(0.0, 75.0, lever=(-0.40, 0.0, 0.0), base_pitch=-90.0),
        "thigh": _simple(0.0, 4.0, lever=(0.2, 0.0, 0.0), base_pitch=-45.0),
    },
    "jumping_jack": {
        # Arms from the sides to overhead (~160 degrees abduction), legs out; two hops per
        # rep, landing at legs-out and legs-in.
        "wrist": _Model(u=(0, 0.25, 0.5, 0.75, 1), px=(0,) * 5, pz=(0, 0.06, 0, 0.06, 0),
                        theta=(0,) * 5, phi=(0, 80, 160, 80, 0), lever=_ARM,
                        impacts=((0.5, 1.0), (1.0, 1.0)), turn_u=0.5),
        "upper_arm": _Model(u=(0, 0.25, 0.5, 0.75, 1), px=(0,) * 5, pz=(0, 0.06, 0, 0.06, 0),
                            theta=(0,) * 5, phi=(0, 80, 160, 80, 0), lever=_UPPER,
                            impacts=((0.5, 1.2), (1.0, 1.2)), turn_u=0.5),
        "chest": _Model(u=(0, 0.25, 0.5, 0.75, 1), px=(0,) * 5, pz=(0, 0.07, 0, 0.07, 0),
                        theta=(0,) * 5, phi=(0, 2, 0, 2, 0),
                        impacts=((0.5, 2.0), (1.0, 2.0)), turn_u=0.5),
        "thigh": _Model(u=(0, 0.25, 0.5, 0.75, 1), px=(0,) * 5, pz=(0, 0.07, 0, 0.07, 0),
                        theta=(0,) * 5, phi=(0, 12, 25, 12, 0), lever=(0.0, 0.0, -0.25),
                        impacts=((0.5, 2.5), (1.0, 2.5)), turn_u=0.5),
    },
    "burpee": {
        # Stand, squat with hands down, jump back to plank (turning point), jump in, stand,
        # jump with arms overhead, land.
        "wrist": _Model(u=(0, 0.2, 0.35, 0.55, 0.7, 0.8, 0.9, 1),
                        px=(0, 0.3, 0.35, 0.3, 0, 0, 0, 0),
                        pz=(0, -0.55, -0.75, -0.55, 0, 0.3, 0, 0),
                        theta=(0, 30, 90, 30, 0, 0, 0, 0), phi=(0, 0, 0, 0, 0, 150, 0, 0),
                        lever=_ARM, impacts=((0.35, 0.8), (0.55, 0.8), (0.9, 1.5)),
                        turn_u=0.35),
        "upper_arm": _Model(u=(0, 0.2, 0.35, 0.55, 0.7, 0.8, 0.9, 1),
                            px=(0, 0.3, 0.35, 0.3, 0, 0, 0, 0),
                            pz=(0, -0.55, -0.75, -0.55, 0, 0.3, 0, 0),
                            theta=(0, 30, 90, 30, 0, 0, 0, 0), phi=(0, 0, 0, 0, 0, 150, 0, 0),
                            lever=_UPPER, impacts=((0.35, 1.0), (0.55, 1.0), (0.9, 1.8)),
                            turn_u=0.35),
        "chest": _Model(u=(0, 0.2, 0.35, 0.55, 0.7, 0.8, 0.9, 1),
                        px=(0, 0.2, 0.3, 0.2, 0, 0, 0, 0),
                        pz=(0, -0.5, -0.9, -0.5, 0, 0.3, 0, 0),
                        theta=(0, 45, 90, 45, 0, 0, 0, 0), phi=(0,) * 8,
                        impacts=((0.35, 1.5), (0.55, 1.5), (0.9, 2.5)), turn_u=0.35),
        "thigh": _Model(u=(0, 0.2, 0.35, 0.55, 0.7, 0.8, 0.9, 1),
                        px=(0, 0.1, 0.0, 0.1, 0, 0, 0, 0),
                        pz=(0, -0.35, -0.55, -0.35, 0, 0.3, 0, 0),
                        theta=(0, 90, 85, 90, 0, 0, 0, 0), phi=(0,) * 8,
                        lever=(0.0, 0.0, -0.2),
                        impacts=((0.35, 2.0), (0.55, 2.0), (0.9, 3.0)), turn_u=0.35),
    },
}
# A plank is the push-up's start pose, held.
_PLANK = _MODELS["pushup"]
SIM_EXERCISES = (*_MODELS, "plank")


def _eased(u: np.ndarray, knots: tuple[float, ...], values: tuple[float, ...]) -> np.ndarray:
    """Piecewise cosine-eased interpolation: smooth velocity at every key pose."""
    k = np.asarray(knots)
    v = np.asarray(values, dtype=np.float64)
    i = np.clip(np.searchsorted(k, u, side="right") - 1, 0, len(k) - 2)
    f = np.clip((u - k[i]) / (k[i + 1] - k[i]), 0.0, 1.0)
    e = 0.5 - 0.5 * np.cos(np.pi * f)
    return v[i] + (v[i + 1] - v[i]) * e


def _rot_y(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def _rot_x(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


@dataclass(frozen=True)
class _Schedule:
    """Where each rep starts, how long it lasts and how big it is."""

    start: np.ndarray
    duration: np.ndarray
    scale: np.ndarray

    def phase(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rep phase u in [0, 1] and amplitude scale for each time (u=0 outside reps)."""
        u = np.zeros_like(t)
        scale = np.zeros_like(t)
        if self.start.size == 0:
            return u, scale
        k = np.clip(np.searchsorted(self.start, t, side="right") - 1, 0, self.start.size - 1)
        inside = (t >= self.start[k]) & (t < self.start[k] + self.duration[k])
        u[inside] = (t[inside] - self.start[k][inside]) / self.duration[k][inside]
        scale[inside] = self.scale[k][inside]
        return u, scale


def _pose(model: _Model, u: np.ndarray, scale: np.ndarray,
          sway: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Device position (m, world) and world-from-segment rotation for phases u."""
    px = _eased(u, model.u, model.px) * scale
    pz = _eased(u, model.u, model.pz) * scale
    theta = _eased(u, model.u, model.theta) * scale + sway[:, 0]
    phi = _eased(u, model.u, model.phi) * scale + sway[:, 1]
    rot = _rot_x(phi) @ _rot_y(theta)
    pos = np.stack([px, np.zeros_like(px), pz], -1) + rot @ np.asarray(model.lever)
    return pos, rot @ _rot_y(np.asarray(model.base_pitch))


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, sigma: float, corner_hz: float,
                  dims: int) -> np.ndarray:
    """Band-limited random wander (sum of random sinusoids below ``corner_hz``)."""
    out = np.zeros((t.size, dims))
    for _ in range(6):
        f = rng.uniform(0.05, corner_hz, size=dims)
        ph = rng.uniform(0, 2 * np.pi, size=dims)
        out += np.sin(2 * np.pi * f * t[:, None] + ph)
    return out * sigma / np.sqrt(3.0)


def _measure(rng: np.random.Generator, t: np.ndarray, pos_fn, impacts: np.ndarray,
             mount: np.ndarray, *, noise_g: float, range_g: float) -> np.ndarray:
    """Specific force in device axes from a position/orientation function of time."""
    h = 1.0 / 400.0
    p_minus, _ = pos_fn(t - h)
    p0, rot = pos_fn(t)
    p_plus, _ = pos_fn(t + h)
    a_world = (p_plus - 2 * p0 + p_minus) / (h * h) / G_MS2
    a_world[:, 2] += 1.0 + impacts
    r = rot @ mount
    f = np.einsum("nji,nj->ni", r, a_world)
    bias = rng.normal(0.0, 0.015, size=3)
    gain = 1.0 + rng.normal(0.0, 0.01, size=3)
    f = f * gain + bias + rng.normal(0.0, noise_g, size=f.shape)
    return np.clip(f, -range_g, range_g)


def _impact_train(t: np.ndarray, times: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Landing shocks: short damped pulses (~30 ms) on the vertical axis."""
    out = np.zeros_like(t)
    for t0, a in zip(times, amps, strict=True):
        lo, hi = np.searchsorted(t, [t0 - 0.01, t0 + 0.12])
        dt = t[lo:hi] - t0
        out[lo:hi] += a * np.exp(-0.5 * (dt / 0.025) ** 2) * np.cos(2 * np.pi * 12 * dt)
    return out


def _timeline(duration_s: float, fs_hz: float) -> np.ndarray:
    if not 1.0 <= fs_hz <= 2000.0:
        raise ValueError(f"fs_hz must be within 1..2000, got {fs_hz}")
    return np.arange(round(duration_s * fs_hz) + 1) / fs_hz


def simulate_set(exercise: str, reps: int = 10, fs_hz: float = 50.0, position: str = "wrist",
                 seed: int = 0, cadence_s: float = 2.0, rest_before_s: float = 3.0,
                 rest_after_s: float = 3.0, sloppy: int = 2, hold_s: float = 30.0,
                 noise_g: float = 0.008, range_g: float = 8.0) -> Recording:
    """One set of an exercise, with rest before and after.

    Parameters
    ----------
    exercise : str
        One of `SIM_EXERCISES` (``plank`` is a hold of ``hold_s`` seconds; ``reps`` is
        ignored for it).
    reps : int
        Number of reps (all of them are real reps, including the sloppy ones).
    fs_hz : float
        Sample rate.
    position : str
        ``wrist``, ``upper_arm``, ``chest`` or ``thigh`` (aliases: ``pocket``, ``upper-arm``).
    seed : int
        Random seed: device orientation, cadence jitter, which reps are sloppy, noise.
    cadence_s : float
        Mean seconds per rep; each rep varies by ~8 % and the pace drifts by up to ±15 %
        over the set, as people speed up or tire.
    rest_before_s, rest_after_s : float
        Standing/lying still (with small fidgets) before and after the set.
    sloppy : int
        How many reps are shallow (55-75 % depth) and irregular in timing.
    hold_s : float
        Hold duration for ``plank``.
    noise_g, range_g : float
        Sensor white noise (g rms) and full-scale range (the signal clips at ±range_g).
    """
    pos_name = sensor_position(position)
    if exercise not in SIM_EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; known: {', '.join(SIM_EXERCISES)}")
    if reps < 0 or cadence_s <= 0 or rest_before_s < 0 or rest_after_s < 0:
        raise ValueError("reps, cadence_s and rests must be non-negative (cadence positive)")
    rng = np.random.default_rng(seed)
    mount = Rotation.random(random_state=rng).as_matrix()
    if exercise == "plank":
        return _simulate_plank(rng, pos_name, fs_hz, hold_s, rest_before_s, rest_after_s,
                               mount, noise_g, range_g)
    model = _MODELS[exercise][pos_name]
    drift = rng.uniform(-0.15, 0.15)
    durations = cadence_s * np.exp(rng.normal(0.0, 0.08, reps)) * (
        1.0 + drift * np.linspace(-1.0, 1.0, reps) if reps > 1 else np.ones(reps))
    scale = rng.uniform(0.9, 1.1, reps)
    sloppy_idx: np.ndarray = (rng.choice(reps, size=min(sloppy, reps), replace=False)
                              if reps else np.zeros(0, dtype=int))
    scale[sloppy_idx] = rng.uniform(0.55, 0.75, len(sloppy_idx))
    durations[sloppy_idx] *= rng.uniform(0.8, 1.3, len(sloppy_idx))
    # A short pause at the start pose between some reps.
    pauses = rng.uniform(0.0, 0.15 * cadence_s, reps)
    starts = rest_before_s + np.concatenate([[0.0], np.cumsum(durations + pauses)[:-1]])
    sched = _Schedule(starts, durations, scale)
    end = (starts[-1] + durations[-1] if reps else rest_before_s) + rest_after_s
    t = _timeline(end, fs_hz)
    sway_seed = int(rng.integers(1 << 30))

    def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, sc = sched.phase(tt)
        return _pose(model, u, sc, _smooth_noise(np.random.default_rng(sway_seed), tt, 1.5,
                                                 0.4, 2))

    hits_t = np.array([s + d * iu for s, d in zip(starts, durations, strict=True)
                       for iu, _ in model.impacts])
    hits_a = np.array([a * sc for sc in scale for _, a in model.impacts])
    impacts = _impact_train(t, hits_t, hits_a) if hits_t.size else np.zeros_like(t)
    acc = _measure(rng, t, pos_fn, impacts, mount, noise_g=noise_g, range_g=range_g)
    rep_times = starts + durations * model.turn_u
    return Recording(t=t, acc=acc, rep_times=rep_times, exercise=exercise, position=pos_name,
                     fs_hz=fs_hz, sloppy_times=np.sort(rep_times[sloppy_idx]),
                     done_times=starts + durations)


def _simulate_plank(rng: np.random.Generator, position: str, fs_hz: float, hold_s: float,
                    rest_before_s: float, rest_after_s: float, mount: np.ndarray,
                    noise_g: float, range_g: float) -> Recording:
    """Stand, get down into a plank (~2 s), hold with sway and muscle tremor, get up."""
    model = _PLANK[position]
    down_s = 2.0
    t = _timeline(rest_before_s + 2 * down_s + hold_s + rest_after_s, fs_hz)
    t_hold0 = rest_before_s + down_s
    t_hold1 = t_hold0 + hold_s
    # Standing pose = the plank pose pitched back up by 90 degrees (face-down -> upright).
    stand_pitch = -90.0 if model.base_pitch == 90.0 else -60.0
    seed = int(rng.integers(1 << 30))

    def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        going = np.clip((tt - rest_before_s) / down_s, 0, 1) - np.clip(
            (tt - t_hold1) / down_s, 0, 1)
        e = 0.5 - 0.5 * np.cos(np.pi * going)
        sway = _smooth_noise(np.random.default_rng(seed), tt, 1.0, 0.3, 2)
        u = np.zeros_like(tt)
        pos, rot = _pose(model, u, np.ones_like(tt), sway)
        pos[:, 2] += 1.0 * (1 - e)
        return pos, _rot_y(stand_pitch * (1 - e)) @ rot

    holding = (t >= t_hold0) & (t < t_hold1)
    # Physiological tremor of a loaded muscle: ~8-11 Hz, 10-20 mg, only while holding.
    f_tremor = rng.uniform(8.0, 11.0)
    tremor = rng.uniform(0.01, 0.02) * np.sin(2 * np.pi * f_tremor * t + rng.uniform(0, 6.3))
    acc = _measure(rng, t, pos_fn, tremor * holding, mount, noise_g=noise_g, range_g=range_g)
    return Recording(t=t, acc=acc, rep_times=np.zeros(0), exercise="plank", position=position,
                     fs_hz=fs_hz, hold_s=float(hold_s))


# --------------------------------------------------------------------------------------------
# Everyday motion that must not count.
# --------------------------------------------------------------------------------------------

SIM_ACTIVITIES = ("walking", "stairs", "hand_shake", "typing", "rest", "fidget", "lying")


def simulate_activity(kind: str, duration_s: float = 60.0, fs_hz: float = 50.0, seed: int = 0,
                      position: str = "wrist", noise_g: float = 0.008,
                      range_g: float = 8.0) -> Recording:
    """Everyday motion with no exercise in it (for false-rep tests).

    ``walking`` (gait 0.8-1.05 strides/s, arm or thigh swing, heel strikes), ``stairs``
    (slower, bigger steps), ``hand_shake`` (the device shaken by hand at 3-7 Hz in bursts),
    ``typing`` (wrist nearly still, key taps), ``rest`` (standing or sitting still,
    breathing), ``fidget`` (an arm or leg moving to a new pose at random moments),
    ``lying`` (device on a table).
    """
    pos_name = sensor_position(position)
    if kind not in SIM_ACTIVITIES:
        raise ValueError(f"unknown activity {kind!r}; known: {', '.join(SIM_ACTIVITIES)}")
    rng = np.random.default_rng(seed)
    mount = Rotation.random(random_state=rng).as_matrix()
    t = _timeline(duration_s, fs_hz)
    seed2 = int(rng.integers(1 << 30))
    impacts = np.zeros_like(t)
    lever = {"wrist": _ARM, "upper_arm": _UPPER, "chest": (0.0, 0.0, 0.0),
             "thigh": (0.0, 0.0, -0.2)}[pos_name]
    swing_deg = {"wrist": 22.0, "upper_arm": 15.0, "chest": 3.0, "thigh": 25.0}[pos_name]

    if kind in ("walking", "stairs"):
        stride_hz = rng.uniform(0.8, 1.05) if kind == "walking" else rng.uniform(0.6, 0.8)
        bounce = 0.04 if kind == "walking" else 0.08
        swing = swing_deg * (1.0 if kind == "walking" else 1.4 if pos_name == "thigh" else 0.8)
        phase = 2 * np.pi * stride_hz

        def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            wob = _smooth_noise(np.random.default_rng(seed2), tt, 2.0, 0.3, 2)
            theta = swing * np.sin(phase * tt) + wob[:, 0]
            rot = _rot_x(wob[:, 1]) @ _rot_y(theta)
            pz = bounce * np.cos(2 * phase * tt)
            px = 0.02 * np.sin(2 * phase * tt)
            pos = np.stack([px, np.zeros_like(tt), pz], -1) + rot @ np.asarray(lever)
            return pos, rot

        steps = np.arange(0.3, duration_s, 0.5 / stride_hz)
        amp = {"wrist": 0.6, "upper_arm": 0.8, "chest": 1.0, "thigh": 1.5}[pos_name]
        impacts = _impact_train(t, steps, amp * rng.uniform(0.8, 1.2, steps.size))
    elif kind == "hand_shake":
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        f_shake = rng.uniform(3.0, 7.0)
        amp_m = rng.uniform(0.03, 0.08)

        def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            on = 0.5 - 0.5 * np.cos(np.clip(2 * np.pi * ((tt % 6.0) / 4.0), 0, 2 * np.pi))
            x = amp_m * on * np.sin(2 * np.pi * f_shake * tt)
            rot = _rot_y(20.0 * on * np.sin(2 * np.pi * f_shake * tt + 0.5))
            return x[:, None] * axis, rot
    elif kind == "fidget":
        # Desk fidgeting: at random moments (every 1-6 s) the arm or leg moves to a new
        # pose (10-40 degrees, 0.4-1.5 s) and stays there; slow sway in between.
        n_moves = int(duration_s / 1.5) + 4
        when = np.cumsum(rng.uniform(1.0, 6.0, n_moves))
        dur = rng.uniform(0.4, 1.5, n_moves)
        target = rng.uniform(-35.0, 35.0, (n_moves, 2))
        size = np.diff(target, axis=0, prepend=0.0)      # each move goes to a new pose

        def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            prog = np.clip((tt[:, None] - when[None, :]) / dur[None, :], 0.0, 1.0)
            ease = 0.5 - 0.5 * np.cos(np.pi * prog)
            ang = ease @ size
            w = _smooth_noise(np.random.default_rng(seed2), tt, 1.0, 0.3, 2)
            rot = _rot_x(ang[:, 1] + w[:, 1]) @ _rot_y(ang[:, 0] + w[:, 0])
            return rot @ np.asarray(lever), rot
    else:  # typing, rest, lying
        still = kind == "lying"

        def pos_fn(tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            w = (np.zeros((tt.size, 2)) if still else
                 _smooth_noise(np.random.default_rng(seed2), tt, 0.8, 0.3, 2))
            breath = 0.0 if still else 0.002 * np.sin(2 * np.pi * 0.25 * tt)
            rot = _rot_x(w[:, 1]) @ _rot_y(w[:, 0])
            pos = rot @ np.asarray(lever)
            pos[:, 0] += breath
            return pos, rot

        if kind == "typing":
            taps = np.cumsum(rng.exponential(1 / 5.0, size=int(duration_s * 7) + 10))
            taps = taps[taps < duration_s]
            impacts = _impact_train(t, taps, rng.uniform(0.03, 0.15, taps.size))
    acc = _measure(rng, t, pos_fn, impacts, mount, noise_g=noise_g, range_g=range_g)
    return Recording(t=t, acc=acc, rep_times=np.zeros(0), exercise=kind, position=pos_name,
                     fs_hz=fs_hz)
