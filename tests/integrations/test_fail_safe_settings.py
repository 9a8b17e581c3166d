"""Bad settings from each source: reported with the source, only that value falls back, and a
trainer never sends under a user or to a broker it was not given."""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path

import lightgbm as lgb
import paho.mqtt.publish as paho_publish
import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.cli import main
from repfit.integrations.lightgbm import workout
from repfit.integrations.session import WorkoutOptions

PARAMS = {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 4,
          "min_data_in_leaf": 5}


def _config(tmp_path: Path, broker: MqttSettings, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(f"""
        user = "fileuser"
        [mqtt]
        url = "{broker.url}"
        {extra}
        [training]
        checkpoint_every = 7
        tick_every = "often"
        exercise = "squats"
    """))
    os.chmod(path, 0o600)
    return path


def test_one_bad_training_value_falls_back_alone(tmp_path: Path, mosquitto: MqttSettings,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="repfit")
    path = _config(tmp_path, mosquitto)
    resolved = WorkoutOptions(config=path, data_dir=tmp_path).resolve()
    assert resolved.settings.checkpoint_every == 7          # kept
    assert resolved.settings.exercise == "squats"           # kept
    assert resolved.settings.tick_every == 10               # the default, alone
    assert resolved.user == "fileuser" and resolved.offline_reason is None
    [line] = [r.getMessage() for r in caplog.records if "tick_every" in r.getMessage()]
    assert str(path) in line and "'often'" in line and "10" in line


@pytest.mark.parametrize(("var", "value"), [
    ("REPFIT_MQTT_URL", "htp://typo:1883"),
    ("REPFIT_MQTT_URL", "mqtt://host:70000"),
    ("REPFIT_USER", "al ice"),
    ("REPFIT_SIGNING_KEY", "too-short"),
])
def test_a_trainer_never_sends_under_a_fallback(
        tmp_path: Path, mosquitto: MqttSettings, listen, binary_data, user: str,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        var: str, value: str) -> None:
    """Before: a bad REPFIT_MQTT_URL dropped every setting, REPFIT_USER included, and the run
    published as 'me' to the default broker. Now the user is kept, the problem is named, and
    nothing is sent anywhere (the config file's broker here, where a listener waits)."""
    caplog.set_level(logging.WARNING, logger="repfit")
    monkeypatch.setenv("REPFIT_USER", user)
    monkeypatch.setenv(var, value)
    path = _config(tmp_path, mosquitto)
    watchers = [listen(name) for name in (user, "me", "fileuser")]
    xt, yt, _, _ = binary_data
    cb = workout(config=path, data_dir=tmp_path)
    booster = lgb.train(PARAMS, lgb.Dataset(xt, yt), 20, callbacks=[cb])
    cb.close(timeout=2.0)
    assert booster.current_iteration() == 20                 # training is never stopped
    resolved = cb.core.resolved()
    if var != "REPFIT_USER":
        assert resolved.user == user                         # the user above all is kept
    assert resolved.offline_reason is not None and var in resolved.offline_reason
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith(f"repfit: config: {var}") for line in lines), lines
    assert sum("not sending to any broker" in line for line in lines) == 1

    # A sentinel published afterwards arrives; nothing the trainer could have sent did.
    for listener, name in zip(watchers, (user, "me", "fileuser"), strict=True):
        paho_publish.single(f"repfit/{name}/cue", wire.encode(wire.Cue("tick", text="end")),
                            qos=1, hostname=mosquitto.host, port=mosquitto.port)
        end = listener.wait_for(lambda m: isinstance(m, wire.Cue) and m.text == "end")
        assert isinstance(end, wire.Cue)
        assert listener.drain() == [], name


def test_a_bad_tls_file_does_not_stop_sending(tmp_path: Path, mosquitto: MqttSettings,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Not every broker setting is vital: a missing CA file falls back to the system's CAs
    (verification stays on), with one line naming the key."""
    caplog.set_level(logging.WARNING, logger="repfit")
    path = _config(tmp_path, mosquitto, 'ca_file = "/nonexistent/ca.pem"')
    resolved = WorkoutOptions(config=path, data_dir=tmp_path).resolve()
    assert resolved.offline_reason is None
    assert "mqtt.ca_file" in caplog.text


def test_commands_that_need_no_broker_never_fail_on_a_broker_setting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPFIT_MQTT_URL", "htp://typo")
    monkeypatch.setenv("REPFIT_USER", "ada")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[mqtt]\nurl = 12\n')
    code = main(["--config", str(cfg), "history", "--data-dir", str(tmp_path / "data")])
    out = capsys.readouterr()
    assert code == 0 and "no results for ada" in out.out
    assert "REPFIT_MQTT_URL" in caplog.text and "mqtt.url" in caplog.text

    # The host needs the broker: the same setting is an error naming the variable.
    code = main(["--config", str(cfg), "host", "--data-dir", str(tmp_path / "data"),
                 "--no-sound"])
    err = capsys.readouterr().err
    assert code == 2 and "configuration error: REPFIT_MQTT_URL" in err
