"""Cue sounds rendered to WAV and inspected: each kind is audible and tells itself apart."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from repfit import wire
from repfit.host.audio import SAMPLE_RATE_HZ, WavFilePlayer, cue_tones, render_cue

KINDS = ["announce", "start", "tick", "tick_major", "finish", "better", "worse", "penalty",
         "reward"]


def _dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_wav_has_the_cue_notes(tmp_path: Path, kind: str) -> None:
    player = WavFilePlayer(tmp_path)
    player.play(wire.Cue(kind=kind))  # type: ignore[arg-type]
    (path,) = player.written
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE_HZ)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float) / 32767
    notes = cue_tones(kind)
    assert len(pcm) == pytest.approx(sum(d for _, d in notes) * SAMPLE_RATE_HZ, abs=len(notes))
    start = 0
    for freq, dur in notes:
        n = round(dur * SAMPLE_RATE_HZ)
        segment = pcm[start:start + n]
        if freq > 0:
            assert np.abs(segment).max() > 0.3
            assert _dominant_hz(segment, SAMPLE_RATE_HZ) == pytest.approx(freq, rel=0.03)
        else:
            assert np.abs(segment).max() == 0
        start += n


def test_tick_and_major_tick_differ_and_better_rises_while_worse_falls() -> None:
    assert cue_tones("tick") != cue_tones("tick_major")
    better = [f for f, _ in cue_tones("better")]
    worse = [f for f, _ in cue_tones("worse")]
    assert better == sorted(better) and worse == sorted(worse, reverse=True)


def test_no_clicks_at_note_edges() -> None:
    x = render_cue("tick")
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01


def test_the_wav_folder_is_a_ring(tmp_path: Path) -> None:
    (tmp_path / "0007-tick.wav").write_bytes(b"left by an earlier run")
    player = WavFilePlayer(tmp_path, keep=5)
    for _ in range(40):
        player.play(wire.Cue(kind="tick"))
    player.play(wire.Cue(kind="finish"))
    files = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert len(files) == 5 and "0041-finish.wav" in files
    assert set(files) == {p.name for p in player.written}


def test_an_unwritable_wav_folder_is_reported_once(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "file").write_text("not a folder")
    player = WavFilePlayer(tmp_path / "file" / "cues")
    for _ in range(3):
        player.play(wire.Cue(kind="tick"))
    assert [r.getMessage() for r in caplog.records if "cannot write cue sounds" in
            r.getMessage()] != [] and len(caplog.records) == 1
    assert not player.written
