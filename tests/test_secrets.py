"""Broker passwords never appear in output, logs or exceptions, whatever characters they hold.

Each generated password is wrapped in two markers that occur nowhere else, so a leak of any
part that touches either end is caught (a redaction that stops at a ``/`` or an ``@`` leaves
the tail), not only a leak of the whole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repfit.config import ConfigError, MqttSettings, Secret, load, parse_broker_url
from repfit.host.broker import free_port
from repfit.host.bus import Bus, BusError
from repfit.host.cli import main
from repfit.host.sources import open_source
from repfit.integrations.publisher import Publisher

HEAD, TAIL = "Qx7", "Jw9"
middles = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)


def _leaks(text: str, password: str) -> bool:
    """Whether any part of ``password`` reaching either of its ends shows in ``text``."""
    return HEAD in text or TAIL in text


@given(middle=middles)
def test_secret_never_formats(middle: str) -> None:
    pw = HEAD + middle + TAIL
    s = Secret(pw)
    for shown in (str(s), repr(s), f"{s}", f"{s!r:>40}", "%s %r" % (s, s), repr([s]),  # noqa: UP031
                  repr(MqttSettings(password=s)), str(Secret(s))):
        assert not _leaks(shown, pw)
    assert Secret(s).reveal() == pw  # re-wrapping keeps the value, not '***'
    with pytest.raises(TypeError):
        _ = "prefix" + s  # type: ignore[operator]


@given(middle=middles, port=st.sampled_from(["99999", "x", "0", ""]))
def test_url_errors_never_show_the_password(middle: str, port: str) -> None:
    pw = HEAD + middle + TAIL
    for url in (f"mqtt://ada:{pw}@broker:{port}", f"http://ada:{pw}@broker",
                f"mqtt://ada:{quote(pw, safe='')}@:{port}", f"ada:{pw}@broker"):
        try:
            parse_broker_url(url)
        except ConfigError as exc:
            assert not _leaks(str(exc), pw), str(exc)
            assert not _leaks(repr(exc.args), pw)


@given(middle=middles.filter(lambda m: "%" not in m))
def test_a_password_in_the_environment_url_arrives_intact(middle: str) -> None:
    pw = HEAD + middle + TAIL
    cfg = load(Path("/nonexistent-repfit.toml"),
               env={"REPFIT_MQTT_URL": f"mqtts://ada:{pw}@broker:8884"})
    assert cfg.mqtt.password is not None and cfg.mqtt.password.reveal() == pw
    assert not _leaks(repr(cfg) + "".join(map(str, cfg.problems)), pw)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(middle=middles)
def test_a_password_in_a_readable_file_is_refused_without_showing_it(
        tmp_path: Path, middle: str) -> None:
    pw = HEAD + middle + TAIL
    toml_pw = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or c in '"\\\x7f' else c
                      for c in pw)
    f = tmp_path / "config.toml"
    f.write_text(f'[mqtt]\nurl = "mqtt://b"\npassword = "{toml_pw}"\n')
    os.chmod(f, 0o644)
    cfg = load(f, env={})
    assert [p.key for p in cfg.problems] == ["mqtt.password"]
    assert not _leaks(str(cfg.problems[0]) + repr(cfg), pw)


@pytest.fixture
def login_broker(tmp_path: Path, private_broker) -> MqttSettings:  # type: ignore[no-untyped-def]
    """A Mosquitto that wants alice's login."""
    pwfile = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "alice", "right pw/@:"],
                   check=True, capture_output=True)
    port = free_port()
    private_broker(port, "allow_anonymous false", f"password_file {pwfile}")
    return MqttSettings(port=port, username="alice")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=15,
          deadline=None)
@given(middle=middles)
def test_a_refused_login_shows_no_password_anywhere(
        login_broker: MqttSettings, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str], middle: str) -> None:
    pw = HEAD + middle + TAIL
    wrong = MqttSettings(port=login_broker.port, username="alice", password=Secret(pw))
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        async def bus() -> str:
            with pytest.raises(BusError) as info:
                async with Bus(wrong, user="alice"):
                    pass
            return str(info.value) + repr(info.value.args)

        async def phone() -> str:
            url = f"mqtt://alice:{quote(pw, safe='')}@127.0.0.1:{login_broker.port}"
            with pytest.raises(ConnectionError) as info:
                async with open_source("phone", broker_url=url, connect_timeout_s=10):
                    pass
            return str(info.value)

        texts = [asyncio.run(bus()), asyncio.run(phone())]
        pub = Publisher(wrong, "alice")
        pub.start()
        pub.close(timeout=2.0)
    out = capsys.readouterr()
    for text in (*texts, caplog.text, out.out, out.err):
        assert not _leaks(text, pw), text
    assert "not authorised" in texts[0] and "not authorised" in texts[1]


@pytest.mark.parametrize("pw", ["right pw/@:"])
def test_the_right_password_with_awkward_characters_logs_in_from_every_source(
        login_broker: MqttSettings, tmp_path: Path, pw: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def ok(settings: MqttSettings) -> None:
        async with Bus(settings, user="alice") as bus:
            await bus.subscribe("assignment")

    port = login_broker.port
    # From REPFIT_MQTT_PASSWORD, from the URL raw and percent-encoded, from a 0600 file.
    sources = [
        load(tmp_path / "none.toml", env={"REPFIT_MQTT_URL": f"mqtt://127.0.0.1:{port}",
                                          "REPFIT_MQTT_USERNAME": "alice",
                                          "REPFIT_MQTT_PASSWORD": pw}),
        load(tmp_path / "none.toml", env={"REPFIT_MQTT_URL": f"mqtt://alice:{pw}@127.0.0.1:{port}"}),
        load(tmp_path / "none.toml",
             env={"REPFIT_MQTT_URL": f"mqtt://alice:{quote(pw, safe='')}@127.0.0.1:{port}"}),
    ]
    f = tmp_path / "config.toml"
    f.write_text(f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\nusername = "alice"\n'
                 f'password = "{pw}"\n')
    os.chmod(f, 0o600)
    sources.append(load(f, env={}))
    for cfg in sources:
        assert cfg.mqtt.password is not None and cfg.mqtt.password.reveal() == pw
        asyncio.run(ok(cfg.mqtt))


def test_the_cli_prints_no_password_when_refused(login_broker: MqttSettings, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pw = f"{HEAD}/x@y:z{TAIL}"
    monkeypatch.setenv("REPFIT_MQTT_URL", f"mqtt://alice:{pw}@127.0.0.1:{login_broker.port}")
    monkeypatch.setenv("REPFIT_USER", "alice")
    code = main(["--config", str(tmp_path / "none.toml"), "host", "--data-dir",
                 str(tmp_path), "--no-sound"])
    out = capsys.readouterr()
    assert code == 3 and "not authorised" in out.err
    assert not _leaks(out.out + out.err, pw)
