"""Configuration: file + environment, errors that name the key, secrets that never print."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repfit.config import ConfigError, load, parse_broker_url


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-here"))
    cfg = load(None, env={"REPFIT_DATA_DIR": str(tmp_path)})
    assert cfg.user == "me"
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1883"
    assert cfg.data_dir == tmp_path
    assert cfg.source_path is None


def test_file_and_environment(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('user = "ada"\n[mqtt]\nurl = "mqtt://broker.lan:1884"\nusername = "ada"\n')
    cfg = load(f, env={})
    assert (cfg.user, cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == \
        ("ada", "broker.lan", 1884, "ada")
    cfg = load(f, env={"REPFIT_USER": "bob", "REPFIT_MQTT_URL": "mqtts://x:8884",
                       "REPFIT_MQTT_PASSWORD": "hunter2"})
    assert (cfg.user, cfg.mqtt.host, cfg.mqtt.tls) == ("bob", "x", True)
    assert cfg.mqtt.password is not None and cfg.mqtt.password.reveal() == "hunter2"
    for shown in (repr(cfg), str(cfg), f"{cfg.mqtt.password}", repr(cfg.mqtt)):
        assert "hunter2" not in shown


def test_password_in_a_readable_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('[mqtt]\npassword = "hunter2"\n')
    os.chmod(f, 0o644)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        load(f, env={})
    assert "hunter2" not in str(info.value)
    os.chmod(f, 0o600)
    assert load(f, env={}).mqtt.password.reveal() == "hunter2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('user = "no spaces"\n', "user"),
        ("mqtt = 3\n", "mqtt"),
        ('[mqtt]\nurl = "http://x"\n', "mqtt.url"),
        ('[mqtt]\nurl = "mqtt://x:99999"\n', "mqtt.url"),
        ("user = [\n", "(file)"),
        ("data_dir = 5\n", "data_dir"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "config.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(f, env={})
    assert str(info.value).startswith(key)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="an existing config file"):
        load(tmp_path / "nope.toml", env={})


def test_url_credentials_are_masked_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_broker_url("http://ada:hunter2@host")
    assert "hunter2" not in str(info.value)
    s = parse_broker_url("mqtt://ada:p%40ss@host")
    assert s.username == "ada" and s.password is not None and s.password.reveal() == "p@ss"
    assert "p@ss" not in repr(s) and s.url == "mqtt://host:1883"
