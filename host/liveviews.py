"""The views away from the terminal, started beside the host: the live page and Home
Assistant, both fed by one `LiveBoard`.

`LiveViews` owns the board, keeps today's totals on it (read from the store in a worker
thread at start and after each result), tells it when the wearable goes quiet, and starts
whichever views are enabled. The host sees one observer (`observer`) and one sample hook
(`on_samples`); with no view enabled both are the host's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
import time
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from repfit import wire
from repfit.host import stats
from repfit.host.bus import Bus
from repfit.host.caps import CapRules
from repfit.host.fanout import FanOut
from repfit.host.homeassistant import HomeAssistantBridge, HomeAssistantSettings
from repfit.host.liveboard import LiveBoard
from repfit.host.livepage import LivePage, WebAddress, is_loopback, page_url
from repfit.host.service import HostObserver, WorkoutHost
from repfit.host.setsamples import SetRecorder
from repfit.host.store import Store

__all__ = ["LiveViews", "terminal_qr"]

log = logging.getLogger(__name__)


def terminal_qr(text: str) -> str:
    """``text`` as a QR code drawn with block characters, for a phone to scan."""
    import qrcode

    qr = qrcode.QRCode(border=1)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def _reachable_host(bind: str) -> str:
    """The address a phone would type for a page bound to ``bind``."""
    if bind not in ("0.0.0.0", "::", ""):
        return bind
    with contextlib.suppress(OSError):
        for address in socket.gethostbyname_ex(socket.gethostname())[2]:
            if not is_loopback(address):
                return address
    return socket.gethostname()


class LiveViews:
    """Start the enabled views for ``user`` beside the host (``async with``)."""

    def __init__(self, bus: Bus, store: Store, user: str, tz: ZoneInfo, *,
                 web: WebAddress | None = None,
                 homeassistant: HomeAssistantSettings | None = None,
                 console: Console | None = None, tick_s: float = 1.0,
                 caps: CapRules | None = None) -> None:
        self.bus = bus
        self.store = store
        self.user = user
        self.tz = tz
        self.web = web
        self.ha_settings = homeassistant or HomeAssistantSettings()
        self.console = console or Console()
        self.tick_s = tick_s
        #: The daily caps, for what is left of them (today's books count them).
        self.caps = caps
        self.board = LiveBoard(user)
        self.page: LivePage | None = None
        self.bridge: HomeAssistantBridge | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._charts: tuple[Any, bytes] | None = None
        self.last_set = SetRecorder()
        self._host: WorkoutHost | None = None
        self._set_png: tuple[str, bytes] | None = None

    @property
    def enabled(self) -> bool:
        return self.web is not None or self.ha_settings.enabled

    def observer(self, terminal: HostObserver) -> HostObserver:
        """What the host should report to: the terminal, plus the board when a view runs."""
        return FanOut([terminal, self.board, self]) if self.enabled else terminal

    def workout_host(self, terminal: HostObserver, **options: Any) -> WorkoutHost:
        """The host on this bus and store, reporting to ``terminal`` and to these views
        (``options``: the other `WorkoutHost` arguments)."""
        host = WorkoutHost(self.bus, self.store, observer=self.observer(terminal),
                           on_samples=self.on_samples, **options)
        if self.bridge is not None:
            self.bridge.verifying = lambda: host.verifying
        self._host = host
        return host

    def on_samples(self, batch: wire.SampleBatch, battery: int | None) -> None:
        if self.enabled:
            self.board.samples(batch, battery)
            self.last_set.samples(batch)

    # The parts of HostObserver the views act on themselves (the board gets them all).
    def assignment(self, a: wire.Assignment) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...

    def progress(self, p: wire.Progress) -> None:
        session = self._host.active if self._host is not None else None
        times = [t for _, t in session.rep_times] if session is not None else []
        self.last_set.progress(p, times)

    def result(self, r: wire.Result) -> None:
        self.last_set.result(r)
        self._spawn(self.refresh_today())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_today(self) -> None:
        """Today's totals and streak from the store (read in a worker thread)."""
        rows = await asyncio.to_thread(self.store.records, self.user)
        records = [stats.Record(*row) for row in rows]
        self.board.set_today(stats.compute(records, self.user, time.time(), self.tz,
                                           self.caps))

    async def charts_png(self) -> bytes | None:
        """The history charts, drawn again only after a new result (None without
        matplotlib)."""
        key = self.board.snapshot()["last_result"]
        if self._charts is None or self._charts[0] != key:
            try:
                from repfit.host import charts
            except ImportError:
                return None

            def draw() -> bytes:
                records = [stats.Record(*row) for row in self.store.records(self.user)]
                scores = charts.read_run_scores(self.store.path.parent)
                return charts.png(charts.history(records, self.user, time.time(), self.tz,
                                                 run_scores=scores), self.user)

            self._charts = (key, await asyncio.to_thread(draw))
        return self._charts[1]

    async def set_png(self) -> bytes | None:
        """The last settled set's own plot (None before the first, or without matplotlib)."""
        done = self.last_set.done
        if done is None:
            return None
        if self._set_png is None or self._set_png[0] != done.assignment_id:
            try:
                from repfit.host import charts
            except ImportError:
                return None
            position = self._host.position if self._host is not None else None
            image = await asyncio.to_thread(charts.set_png, done.t, done.acc, done.exercise,
                                            done.title, rep_times=done.rep_times or None,
                                            position=position)
            self._set_png = (done.assignment_id, image)
        return self._set_png[1]

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.board.tick()

    async def __aenter__(self) -> LiveViews:
        if not self.enabled:
            return self
        await self.refresh_today()
        self._spawn(self._tick())
        if self.web is not None:
            self.page = await LivePage(self.board, self.web.host, self.web.port,
                                       charts=self.charts_png, last_set=self.set_png).start()
            self._announce_page(self.page)
        if self.ha_settings.enabled:
            self.bridge = HomeAssistantBridge(self.bus, self.board, self.ha_settings)
            await self.bridge.start()
            self.console.print(f"Home Assistant: {self.user}'s entities announced under "
                               f"{self.ha_settings.discovery_prefix}/", highlight=False)
        return self

    def _announce_page(self, page: LivePage) -> None:
        if page.token is None:
            self.console.print(f"live page: {page.url} (this machine only)", highlight=False)
            return
        url = page_url(_reachable_host(page.host), page.port, page.token)
        self.console.print(f"live page on {page.host}:{page.port}, reachable from other "
                           f"machines, so it needs its token. Open on your phone:\n  {url}",
                           highlight=False, soft_wrap=True)
        self.console.print(terminal_qr(url), markup=False, highlight=False)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.bridge is not None:
            self.bridge.stop()
        if self.page is not None:
            await self.page.close()
