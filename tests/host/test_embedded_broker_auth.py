"""`repfit broker --password-file`: the embedded amqtt broker accepts only listed users."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from repfit.config import ConfigError, MqttSettings, Secret
from repfit.host.broker import EmbeddedBroker, add_user, read_password_file
from repfit.host.bus import Bus, BusError
from repfit.host.cli import main


async def _login(broker: EmbeddedBroker, username: str | None, password: str | None) -> None:
    settings = MqttSettings(port=broker.port, username=username,
                            password=Secret(password) if password is not None else None)
    async with Bus(settings, user="alice", connect_timeout_s=20) as bus:
        await bus.subscribe("assignment")


def test_only_listed_users_get_in(tmp_path: Path) -> None:
    pwfile = tmp_path / "broker-passwd"
    add_user(pwfile, "alice", "pa/ss@:w")
    add_user(pwfile, "bob", "x")
    add_user(pwfile, "alice", "new pa/ss")        # changing a password keeps the others
    assert set(read_password_file(pwfile)) == {"alice", "bob"}
    assert stat.S_IMODE(pwfile.stat().st_mode) == 0o600
    assert "new pa/ss" not in pwfile.read_text()

    async def scenario() -> list[str]:
        refusals = []
        async with EmbeddedBroker(password_file=pwfile) as broker:
            await _login(broker, "alice", "new pa/ss")
            for username, password in ((None, None), ("alice", "pa/ss@:w"), ("eve", "x")):
                with pytest.raises(BusError) as info:
                    await _login(broker, username, password)
                refusals.append(str(info.value))
        return refusals

    refusals = asyncio.run(scenario())
    assert all("refused the connection" in r for r in refusals), refusals
    assert not any("pa/ss" in r for r in refusals)


def test_without_a_password_file_anyone_gets_in() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            await _login(broker, None, None)

    asyncio.run(scenario())


@pytest.mark.parametrize("text", ["alice\n", "alice:plaintext\n", ":$argon2id$x\n"])
def test_a_malformed_password_file_names_the_line_not_the_hash(tmp_path: Path,
                                                               text: str) -> None:
    pwfile = tmp_path / "passwd"
    pwfile.write_text("# users\nbob:$argon2id$v=19$m=65536,t=3,p=4$abc$def\n" + text)
    with pytest.raises(ConfigError, match="line 3") as info:
        read_password_file(pwfile)
    assert "plaintext" not in str(info.value) and "abc$def" not in str(info.value)

    async def start() -> None:
        async with EmbeddedBroker(password_file=pwfile):
            pass

    with pytest.raises(ConfigError, match="line 3"):
        asyncio.run(start())


def test_the_cli_adds_users_and_names_a_missing_file(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pwfile = tmp_path / "passwd"
    monkeypatch.setenv("REPFIT_BROKER_PASSWORD", "s3cret/pw")
    assert main(["broker", "--password-file", str(pwfile), "--add-user", "alice"]) == 0
    assert list(read_password_file(pwfile)) == ["alice"]
    assert "s3cret" not in capsys.readouterr().out
    assert main(["broker", "--add-user", "bob"]) == 2
    assert "--password-file" in capsys.readouterr().err
    assert main(["broker", "--port", "0", "--password-file", str(tmp_path / "nope")]) == 2
    assert "readable password file" in capsys.readouterr().err
