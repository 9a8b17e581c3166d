"""The live page's server: the token off loopback, many tabs, a closed tab, a slow tab.

Real sockets on loopback, the real server; the browser itself is in test_livepage_browser.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from typing import Any

import pytest

from repfit import wire
from repfit.host.liveboard import LiveBoard
from repfit.host.livepage import LivePage, is_loopback, parse_web_address


async def get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class Tab:
    """A browser tab's event stream, read by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, path: str = "/events", *, rcvbuf: int | None = None) -> Tab:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        return cls(reader, writer)

    async def next_snapshot(self) -> dict[str, Any]:
        while True:
            line = await self.reader.readline()
            if not line:
                raise EOFError("stream closed")
            if line.startswith(b"data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]


def test_web_address_and_loopback() -> None:
    assert parse_web_address("8080") == parse_web_address("127.0.0.1:8080")
    assert parse_web_address("0.0.0.0:9000").host == "0.0.0.0"
    assert parse_web_address("[::1]:9000").host == "::1"
    for bad in ("http", "1.2.3.4:99999", "host:"):
        with pytest.raises(ValueError):
            parse_web_address(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")


def test_off_loopback_every_route_needs_the_token() -> None:
    async def scenario() -> None:
        board = LiveBoard("ada")
        # Bound to every address: only the loopback one is used to reach it here.
        async with LivePage(board, "0.0.0.0", 0) as page:
            assert page.token and len(page.token) >= 16
            for path in ("/", "/state", "/events", f"/state?token={page.token[:-1]}x"):
                status, body = await get(page.port, path)
                assert status == 401, path
                assert b"token" in body
            status, body = await get(page.port, f"/state?token={page.token}")
            assert status == 200 and json.loads(body)["user"] == "ada"
        async with LivePage(board, "127.0.0.1", 0) as local:
            assert local.token is None
            assert (await get(local.port, "/"))[0] == 200

    asyncio.run(scenario())


def test_read_only_and_unknown_routes() -> None:
    async def scenario() -> None:
        async with LivePage(LiveBoard("ada"), "127.0.0.1", 0) as page:
            reader, writer = await asyncio.open_connection("127.0.0.1", page.port)
            writer.write(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 405")
            writer.close()
            assert (await get(page.port, "/nope"))[0] == 404
            reader, writer = await asyncio.open_connection("127.0.0.1", page.port)
            writer.write(b"\xff\xfe garbage\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 400")
            writer.close()

    asyncio.run(scenario())


def test_fifty_tabs_a_closed_tab_and_a_slow_tab(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "repfit.host.livepage")

    async def follow(tab: Tab, last: list[bytes]) -> None:
        """A tab that keeps reading: remembers the latest event's data line."""
        while line := await tab.reader.readline():
            if line.startswith(b"data: "):
                last[0] = line

    def seq(line: bytes) -> int:
        match = re.search(rb'"seq":(\d+)', line[:200])
        return int(match[1]) if match else -1

    async def scenario() -> None:
        board = LiveBoard("ada")
        async with LivePage(board, "127.0.0.1", 0, queue_size=8) as page:
            tabs = [await Tab.open(page.port) for _ in range(50)]
            latest = [[b""] for _ in tabs]
            readers = [asyncio.create_task(follow(t, box))
                       for t, box in zip(tabs, latest, strict=True)]
            closed = await Tab.open(page.port)
            closed.writer.close()
            slow = await Tab.open(page.port, rcvbuf=4096)   # connected, never reads
            await asyncio.sleep(0.05)
            assert len(page.clients) == 52
            # A flood of large updates: each publish only queues, whatever the tabs do.
            big = {"pad": "x" * 20_000}
            for i in range(5000):
                board.progress(wire.Progress("a1", "squat", reps=i, target=10_000))
                page.publish("test", {**board.snapshot(), **big})
                if page.dropped:
                    break
                # The reading tabs keep up (a phone on Wi-Fi would); the slow one never reads.
                while any(seq(box[0]) < board.seq for box in latest):
                    await asyncio.sleep(0)
            await asyncio.sleep(0.05)
            assert page.dropped == 1, "exactly the tab that stopped reading is dropped"
            assert slow.writer.transport.is_closing() or await slow.reader.read() is not None
            assert len(page.clients) == 50     # the closed and the slow tab are gone
            board.progress(wire.Progress("a1", "squat", reps=99_999, target=10_000))
            for box in latest:                 # every reading tab gets the latest state
                while not box[0] or json.loads(box[0][6:])["current"]["reps"] != 99_999:
                    await asyncio.sleep(0.01)
            for tab, reader in zip(tabs, readers, strict=True):
                tab.writer.close()
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        drops = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(drops) == 1 and "\n" not in drops[0].getMessage()

    asyncio.run(scenario())


def test_off_loopback_the_host_prints_the_token_and_a_qr_code(mosquitto: Any,
                                                               tmp_path: Any) -> None:
    import io
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from repfit.host.bus import Bus
    from repfit.host.livepage import WebAddress
    from repfit.host.liveviews import LiveViews
    from repfit.host.store import Store

    out = io.StringIO()

    async def scenario() -> str:
        with Store.in_dir(tmp_path) as store:
            async with Bus(mosquitto, user="ada") as bus, \
                    LiveViews(bus, store, "ada", ZoneInfo("UTC"),
                              web=WebAddress("0.0.0.0", 0),
                              console=Console(file=out, width=200)) as views:
                assert views.page is not None and views.page.token
                return views.page.token

    token = asyncio.run(scenario())
    text = out.getvalue()
    assert "needs its token" in text and f"?token={token}" in text
    assert "█" in text or "▀" in text       # the QR code, drawn in block characters


def test_a_bad_web_address_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Any) -> None:
    from repfit.host.cli import main

    assert main(["host", "--web", "localhost:http", "--data-dir", str(tmp_path)]) == 2
    assert "--web" in capsys.readouterr().err
