"""Cue sounds: synthesised tones, played on whatever the machine offers.

The sound of each cue kind is computed (pure numpy) so tests can inspect it. Playback goes
through one narrow interface, `CuePlayer`, with three implementations picked in this order:
simpleaudio (the ``repfit[sound]`` extra), a system player command (``aplay`` or
``paplay``), and, with no audio device at all, WAV files written to a folder.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import shutil
import subprocess
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from repfit import wire

__all__ = [
    "SAMPLE_RATE_HZ",
    "CommandPlayer",
    "CuePlayer",
    "SimpleaudioPlayer",
    "WavFilePlayer",
    "cue_tones",
    "default_player",
    "render_cue",
    "to_wav_bytes",
]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 22_050

# (frequency Hz, duration s) per note; 0 Hz is a rest. Ticks are short so they fit a fast
# metronome; "better" rises, "worse"/"penalty" fall, so they read without words.
_TONES: dict[str, tuple[tuple[float, float], ...]] = {
    "announce": ((660.0, 0.12), (0.0, 0.05), (660.0, 0.12)),
    "start": ((523.25, 0.15), (659.25, 0.15), (783.99, 0.3)),
    "tick": ((880.0, 0.05),),
    "tick_major": ((1318.5, 0.09),),
    "finish": ((783.99, 0.15), (1046.5, 0.4)),
    "better": ((523.25, 0.1), (659.25, 0.1), (783.99, 0.1), (1046.5, 0.25)),
    "worse": ((392.0, 0.2), (329.63, 0.3)),
    "penalty": ((329.63, 0.2), (261.63, 0.2), (196.0, 0.4)),
    "reward": ((783.99, 0.1), (1046.5, 0.1), (1318.5, 0.3)),
}


def cue_tones(kind: str) -> tuple[tuple[float, float], ...]:
    """The notes of a cue kind (frequency Hz, seconds)."""
    return _TONES[kind]


def render_cue(kind: str, rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Mono float32 waveform in [-1, 1] for a cue kind, with 5 ms fades against clicks."""
    parts: list[np.ndarray] = []
    fade = int(0.005 * rate_hz)
    for freq, dur in cue_tones(kind):
        n = round(dur * rate_hz)
        if freq <= 0:
            parts.append(np.zeros(n, np.float32))
            continue
        tone = 0.6 * np.sin(2 * np.pi * freq * np.arange(n) / rate_hz)
        ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / max(fade, 1))
        parts.append((tone * ramp).astype(np.float32))
    return np.concatenate(parts)


def to_wav_bytes(samples: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """16-bit mono PCM WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


class CuePlayer(Protocol):
    """Plays one cue; must return quickly (playback continues in the background)."""

    def play(self, cue: wire.Cue) -> None: ...


class SimpleaudioPlayer:
    """Playback through simpleaudio (``pip install 'repfit[sound]'``)."""

    def __init__(self) -> None:
        import simpleaudio

        self._sa = simpleaudio

    def play(self, cue: wire.Cue) -> None:
        pcm = (np.clip(render_cue(cue.kind), -1, 1) * 32767).astype("<i2")
        self._sa.play_buffer(pcm.tobytes(), 1, 2, SAMPLE_RATE_HZ)


@dataclass
class CommandPlayer:
    """Playback by piping a WAV into a system command such as ``aplay -q -``."""

    argv: tuple[str, ...]

    def play(self, cue: wire.Cue) -> None:
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError as exc:
            log.warning("cannot run %s to play a cue: %s", self.argv[0], exc)
            return
        assert proc.stdin is not None
        try:
            proc.stdin.write(to_wav_bytes(render_cue(cue.kind)))
            proc.stdin.close()
        except BrokenPipeError:
            log.warning("%s stopped before the cue was played", self.argv[0])


class WavFilePlayer:
    """No audio device: each cue is written as a numbered WAV file (and can be inspected).

    The folder is a ring: it keeps the newest ``keep`` WAV files and deletes older ones,
    also those left by earlier runs, so any number of cues takes bounded space (about
    25 KiB a cue). A folder that cannot be written is reported once; cues then go unheard.
    """

    def __init__(self, folder: Path | str, keep: int = 32) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.folder = Path(folder)
        self.keep = keep
        self._numbers = itertools.count(1)
        self.written: deque[Path] = deque(maxlen=keep)
        self._broken = False

    def play(self, cue: wire.Cue) -> None:
        if self._broken:
            return
        path = self.folder / f"{next(self._numbers) % 10_000:04d}-{cue.kind}.wav"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_wav_bytes(render_cue(cue.kind)))
        except OSError as exc:
            self._broken = True
            log.warning("cannot write cue sounds to %s (%s): cues stay silent",
                        self.folder, exc.strerror or exc)
            return
        self.written.append(path)
        self._prune()

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.wav"), key=_age_key)
        for old in files[:-self.keep]:
            with contextlib.suppress(OSError):
                old.unlink()


def _age_key(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:
        return 0, path.name


def default_player(wav_folder: Path | str) -> CuePlayer:
    """The best player available here; WAV files in ``wav_folder`` as the last resort."""
    try:
        return SimpleaudioPlayer()
    except ImportError:
        pass
    if Path("/dev/snd").exists():
        for argv in (("aplay", "-q", "-"), ("paplay",)):
            if shutil.which(argv[0]):
                return CommandPlayer(argv)
    log.info("no audio device: cues are written as WAV files to %s", wav_folder)
    return WavFilePlayer(wav_folder)
