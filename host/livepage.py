"""The live page: one read-only web page, served by the host, that follows the `LiveBoard`.

Built on asyncio's own streams: the page needs a few GET routes (the page, a server-sent
event stream, a JSON snapshot, the history charts and the last set's plot), which the
standard library serves in one small module with no dependency to install or keep up to
date. The page is one static HTML file with inline
script and style: nothing to build.

Every browser tab gets a bounded queue. `LivePage.publish` (called on the host's event loop
for each board change) encodes the snapshot once and only *puts* it in each queue; a tab
whose queue is full is dropped with one log line and its browser reconnects on its own to a
fresh snapshot. Nothing the host does waits on a browser.

Off loopback the page needs a token (``?token=...``), compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from repfit.host.liveboard import LiveBoard

__all__ = ["LivePage", "WebAddress", "is_loopback", "page_html", "page_url",
           "parse_web_address"]

log = logging.getLogger(__name__)

_MAX_REQUEST_BYTES = 8192
_KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class WebAddress:
    host: str
    port: int


def parse_web_address(text: str) -> WebAddress:
    """``PORT``, ``ADDR:PORT`` or ``[IPv6]:PORT``; a bare port binds 127.0.0.1.

    Raises
    ------
    ValueError
        Naming what is wrong.
    """
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r} is not [ADDR:]PORT (e.g. 8080 or 0.0.0.0:8080)") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not between 0 and 65535")
    return WebAddress(host, port)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def page_url(host: str, port: int, token: str | None) -> str:
    """The address to open (with the token when one is needed)."""
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")


def page_html() -> bytes:
    """The page itself (shipped beside this module)."""
    return resources.files("repfit.host").joinpath("live_page.html").read_bytes()


class _Client:
    """One open event stream: its queue and the task that writes it to the socket."""

    def __init__(self, peer: str, queue_size: int) -> None:
        self.peer = peer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(queue_size)
        self.task: asyncio.Task[None] | None = None


class LivePage:
    """Serve the live page for ``board`` on ``host:port``.

    Parameters
    ----------
    board : LiveBoard
        What the page shows.
    host, port : str, int
        Where to listen; port 0 picks a free one (see `port` once started).
    token : str, optional
        Required as ``?token=`` on every request. Defaults to a fresh random one when
        ``host`` is not loopback, and to none on loopback.
    queue_size : int
        Updates buffered per tab before the tab is dropped as too slow.
    max_clients : int
        Open event streams allowed at once; more get 503.
    charts : callable, optional
        Returns the history charts as PNG bytes (None when they cannot be drawn); served
        at ``/charts.png``.
    last_set : callable, optional
        Returns the last set's own plot as PNG bytes (None when there is none); served at
        ``/set.png``.
    """

    def __init__(self, board: LiveBoard, host: str = "127.0.0.1", port: int = 8080, *,
                 token: str | None = None, queue_size: int = 32,
                 max_clients: int = 200,
                 charts: Callable[[], Awaitable[bytes | None]] | None = None,
                 last_set: Callable[[], Awaitable[bytes | None]] | None = None) -> None:
        self.board = board
        self.host = host
        self.port = port
        self.token = token if token is not None else (
            None if is_loopback(host) else secrets.token_urlsafe(16))
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.images = {"/charts.png": charts, "/set.png": last_set}
        self.clients: set[_Client] = set()
        self.dropped = 0
        self._server: asyncio.base_events.Server | None = None
        self._page = page_html()
        self._stop_listening: Any = None

    @property
    def url(self) -> str:
        return page_url(self.host, self.port, self.token)

    async def start(self) -> LivePage:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  limit=_MAX_REQUEST_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stop_listening = self.board.listen(self.publish)
        return self

    async def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
        if self._server is not None:
            self._server.close()
        tasks = [c.task for c in self.clients if c.task is not None]
        for client in list(self.clients):
            self._drop(client)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def __aenter__(self) -> LivePage:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ fan-out

    @staticmethod
    def event_bytes(snapshot: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(snapshot, separators=(",", ":")).encode() + b"\n\n"

    def publish(self, why: str, snapshot: dict[str, Any]) -> None:
        """Queue one snapshot for every open tab; never waits (a full queue drops the tab)."""
        if not self.clients:
            return
        event = self.event_bytes(snapshot)
        for client in list(self.clients):
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("live page: dropped %s, %d updates behind (it reconnects to the "
                            "latest state)", client.peer, self.queue_size)
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        self.clients.discard(client)
        if client.task is not None:
            client.task.cancel()

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    asyncio.TimeoutError, ConnectionError):
                return
            await self._answer(head, name, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: str, body: bytes, content_type: str,
                     head_only: bool = False) -> None:
        headers = [
            f"HTTP/1.1 {status}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Cache-Control: no-store", "Connection: close",
            "X-Content-Type-Options: nosniff", "Referrer-Policy: no-referrer",
            "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
        ]
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        if not head_only:
            writer.write(body)
        await writer.drain()

    async def _answer(self, head: bytes, peer: str, writer: asyncio.StreamWriter) -> None:
        try:
            method, target, _ = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
        except (UnicodeDecodeError, ValueError):
            await self._reply(writer, "400 Bad Request", b"not an HTTP request\n", "text/plain")
            return
        if method not in ("GET", "HEAD"):
            await self._reply(writer, "405 Method Not Allowed", b"read-only: GET only\n",
                              "text/plain")
            return
        url = urlsplit(target)
        given = parse_qs(url.query).get("token", [""])[0]
        if self.token is not None and not hmac.compare_digest(given.encode(),
                                                              self.token.encode()):
            await self._reply(writer, "401 Unauthorized",
                              b"this page needs its token: open the address with ?token=... "
                              b"that repfit host printed at start\n", "text/plain")
            return
        head_only = method == "HEAD"
        if url.path == "/":
            await self._reply(writer, "200 OK", self._page, "text/html; charset=utf-8",
                              head_only)
        elif url.path == "/state":
            body = json.dumps(self.board.snapshot()).encode()
            await self._reply(writer, "200 OK", body, "application/json", head_only)
        elif url.path in self.images:
            draw = self.images[url.path]
            image = await draw() if draw is not None else None
            if image is None:
                await self._reply(writer, "404 Not Found", b"nothing to draw yet, or no "
                                  b"matplotlib (repfit[plot])\n", "text/plain", head_only)
            else:
                await self._reply(writer, "200 OK", image, "image/png", head_only)
        elif url.path == "/events" and not head_only:
            await self._stream(peer, writer)
        else:
            await self._reply(writer, "404 Not Found", b"not found\n", "text/plain", head_only)

    async def _stream(self, peer: str, writer: asyncio.StreamWriter) -> None:
        if len(self.clients) >= self.max_clients:
            await self._reply(writer, "503 Service Unavailable", b"too many open pages\n",
                              "text/plain")
            return
        client = _Client(peer, self.queue_size)
        client.task = asyncio.current_task()  # type: ignore[assignment]
        self.clients.add(client)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-store\r\nConnection: keep-alive\r\n"
                         b"X-Accel-Buffering: no\r\n\r\nretry: 1000\n\n"
                         + self.event_bytes(self.board.snapshot()))
            await writer.drain()
            while True:
                try:
                    event = await asyncio.wait_for(client.queue.get(), _KEEPALIVE_S)
                except asyncio.TimeoutError:
                    event = b": keep-alive\n\n"  # finds tabs that closed without a word
                if event is None:
                    return
                writer.write(event)
                await writer.drain()
        finally:
            self.clients.discard(client)
