"""Optional local playback of cues on the training machine (through repfit.host.audio)."""

from __future__ import annotations

import lightgbm as lgb
import pytest

from repfit.integrations.lightgbm import workout

audio = pytest.importorskip("repfit.host.audio")


def test_cues_are_also_played_locally_when_asked(binary_data, tmp_path):
    if not isinstance(audio.default_player(tmp_path / "probe"), audio.WavFilePlayer):
        pytest.skip("an audio device is present; this test checks the WAV fallback")
    xt, yt, _, _ = binary_data
    with workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path, play_locally=True,
                 exercise="plank", iterations=20, calibration_iterations=2,
                 announce_s=0) as cb:
        lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(xt, yt), 30,
                  callbacks=[cb])
    played = sorted(p.name for p in (tmp_path / "cues").glob("*.wav"))
    assert played == ["0001-announce.wav", "0002-start.wav", "0003-tick.wav",
                      "0004-finish.wav"]
