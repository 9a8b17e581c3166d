"""Configuration: file + environment, problems that name their source, secrets that never print.

Loading fails safe: each bad value is reported with its source (the environment variable, or
the file and key) and falls back on its own; everything else is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repfit.config import (
    FILE_KEY,
    ConfigError,
    MqttSettings,
    Secret,
    broker_settings,
    load,
    parse_broker_url,
    redact_url,
)


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-here"))
    cfg = load(None, env={"REPFIT_DATA_DIR": str(tmp_path)})
    assert cfg.user == "me"
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1883"
    assert cfg.data_dir == tmp_path
    assert cfg.source_path is None
    assert cfg.problems == ()


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


def test_a_password_inside_the_environment_url_is_sent_as_itself(tmp_path: Path) -> None:
    """It used to become the literal '***' (a Secret re-wrapped through str())."""
    cfg = load(tmp_path / "none.toml", env={"REPFIT_MQTT_URL": "mqtt://ada:s3cr/et@b:1884"})
    assert cfg.mqtt.password is not None and cfg.mqtt.password.reveal() == "s3cr/et"
    assert cfg.mqtt.username == "ada" and (cfg.mqtt.host, cfg.mqtt.port) == ("b", 1884)
    assert Secret(cfg.mqtt.password).reveal() == "s3cr/et"


def test_password_in_a_readable_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('user = "ada"\n[mqtt]\nurl = "mqtt://b:1884"\npassword = "hunter2"\n')
    os.chmod(f, 0o644)
    cfg = load(f, env={})
    [problem] = cfg.problems
    assert problem.key == "mqtt.password" and "chmod 600" in str(problem)
    assert "hunter2" not in str(problem)
    assert cfg.mqtt.password is None
    assert (cfg.user, cfg.mqtt.host, cfg.mqtt.port) == ("ada", "b", 1884)  # the rest is kept
    with pytest.raises(ConfigError, match="chmod 600"):
        cfg.check("mqtt")
    os.chmod(f, 0o600)
    assert load(f, env={}).mqtt.password.reveal() == "hunter2"  # type: ignore[union-attr]


def test_a_password_in_the_url_of_a_readable_file_is_refused_too(tmp_path: Path) -> None:
    f = tmp_path / "config.toml"
    f.write_text('[mqtt]\nurl = "mqtt://ada:hunter2@b:1884"\n')
    os.chmod(f, 0o644)
    cfg = load(f, env={})
    assert [p.key for p in cfg.problems] == ["mqtt.password"]
    assert cfg.mqtt.password is None and cfg.mqtt.username == "ada"
    assert "hunter2" not in repr(cfg) + str(cfg.problems[0])
    os.chmod(f, 0o600)
    assert load(f, env={}).mqtt.password.reveal() == "hunter2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('user = "no spaces"\n', "user"),
        ("mqtt = 3\n", "mqtt"),
        ('[mqtt]\nurl = "http://x"\n', "mqtt.url"),
        ('[mqtt]\nurl = "mqtt://x:99999"\n', "mqtt.url"),
        ('[mqtt]\nurl = 5\n', "mqtt.url"),
        ('[mqtt]\nusername = 5\n', "mqtt.username"),
        ('[mqtt]\nca_file = "/nonexistent/ca.pem"\n', "mqtt.ca_file"),
        ('[mqtt]\nport = 5\n', "mqtt.port"),
        ("user = [\n", FILE_KEY),
        ("data_dir = 5\n", "data_dir"),
    ],
)
def test_a_bad_file_value_names_file_and_key_and_falls_back_alone(
        tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "config.toml"
    f.write_text(text)
    cfg = load(f, env={"REPFIT_DATA_DIR": str(tmp_path)} if key != "data_dir" else {})
    [problem] = cfg.problems
    assert problem.key == key
    assert str(problem).startswith("config file " if key == FILE_KEY else key)
    assert str(f) in str(problem)
    assert problem.fallback


@pytest.mark.parametrize(
    ("var", "value", "key"),
    [
        ("REPFIT_USER", "no spaces", "user"),
        ("REPFIT_MQTT_URL", "http://x", "mqtt.url"),
        ("REPFIT_MQTT_URL", "mqtt://x:0", "mqtt.url"),
        ("REPFIT_MQTT_CA_FILE", "/nonexistent/ca.pem", "mqtt.ca_file"),
    ],
)
def test_a_bad_environment_value_names_the_variable_and_keeps_the_rest(
        tmp_path: Path, var: str, value: str, key: str) -> None:
    f = tmp_path / "config.toml"
    f.write_text('user = "ada"\ndata_dir = "/somewhere"\n[mqtt]\nurl = "mqtts://lab:8884"\n'
                 'username = "ada"\n')
    env = {"REPFIT_USER": "bob", "REPFIT_MQTT_URL": "mqtts://other:8885"}
    env[var] = value
    cfg = load(f, env=env)
    [problem] = cfg.problems
    assert problem.key == key and str(problem).startswith(var)
    assert problem.source == var
    # Everything else is kept: the user above all.
    assert cfg.user == ("ada" if var == "REPFIT_USER" else "bob")
    assert cfg.mqtt.username == "ada" and cfg.data_dir == Path("/somewhere")
    assert cfg.mqtt.host == ("lab" if var == "REPFIT_MQTT_URL" else "other")


def test_check_raises_only_for_the_keys_asked_for(tmp_path: Path) -> None:
    cfg = load(tmp_path / "none.toml", env={"REPFIT_MQTT_URL": "nonsense"})
    assert [p.key for p in cfg.problems] == ["(file)", "mqtt.url"]
    cfg.check("user", "data_dir")  # a command that needs no broker carries on
    with pytest.raises(ConfigError, match=r"^REPFIT_MQTT_URL"):
        cfg.check("mqtt")


def test_tls_files_from_file_and_environment(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "c.pem", "k.pem"))
    for p in (ca, cert, key):
        p.write_text("x")
    f = tmp_path / "config.toml"
    f.write_text(f'[mqtt]\nurl = "mqtts://b"\nca_file = "{ca}"\ncert_file = "{cert}"\n')
    cfg = load(f, env={"REPFIT_MQTT_KEY_FILE": str(key)})
    assert (cfg.mqtt.ca_file, cfg.mqtt.cert_file, cfg.mqtt.key_file) == (ca, cert, key)
    assert cfg.problems == ()
    # A CA file with a plain mqtt:// URL is reported, not silently half-used.
    plain = load(f, env={"REPFIT_MQTT_URL": "mqtt://b"})
    assert [p.key for p in plain.problems] == ["mqtt.ca_file"]
    assert plain.mqtt.ca_file is None


def test_missing_explicit_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    cfg = load(tmp_path / "nope.toml", env={"REPFIT_USER": "ada"})
    assert cfg.user == "ada"
    assert "an existing config file" in str(cfg.problems[0])


def test_url_credentials_are_masked_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_broker_url("http://ada:hunter2@host")
    assert "hunter2" not in str(info.value)
    s = parse_broker_url("mqtt://ada:p%40ss@host")
    assert s.username == "ada" and s.password is not None and s.password.reveal() == "p@ss"
    assert "p@ss" not in repr(s) and s.url == "mqtt://host:1883"


@pytest.mark.parametrize("password", ["pa/ss", "p@ss", "p:a:ss", "a/b@c:d", "%41", "#?x"])
def test_any_character_in_a_url_password(password: str) -> None:
    s = parse_broker_url(f"mqtts://ada:{password}@broker.lan:8884")
    assert (s.host, s.port, s.username) == ("broker.lan", 8884, "ada")
    assert s.password is not None
    assert s.password.reveal() in (password, "A")  # %41 is the encoded "A"
    with pytest.raises(ConfigError) as info:
        parse_broker_url(f"mqtt://ada:{password}@broker.lan:99999")
    assert password not in str(info.value)


def test_redact_url_keeps_the_user_and_drops_the_rest_of_the_credentials() -> None:
    assert redact_url("mqtt://ada:x/y@z@h:1") == "mqtt://ada:***@h:1"
    assert redact_url("mqtt://h:1") == "mqtt://h:1"
    assert redact_url("tok@h") == "***@h"


def test_websocket_path_and_broker_settings_merge() -> None:
    s = parse_broker_url("wss://b/ws")
    assert (s.websocket, s.tls, s.port, s.ws_path) == (True, True, 443, "/ws")
    base = MqttSettings(username="ada", password=Secret("pw"), ca_file=Path("ca.pem"))
    merged = broker_settings("mqtts://b:8884", base, key="--broker")
    assert merged.username == "ada" and merged.password == Secret("pw")
    assert merged.ca_file == Path("ca.pem")
    own = broker_settings("mqtt://bob:pw2@b", base, key="--phone")
    assert own.username == "bob" and own.password == Secret("pw2") and own.ca_file is None
