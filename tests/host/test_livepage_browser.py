"""The live page in a real headless Chromium (Debian's package, driven by Playwright), while
a simulated set streams through a real Mosquitto into the real host.

The screenshots are kept in the test's tmp_path (``live-page-during-set.png`` and
``live-page.png``; pytest keeps the last three runs under its basetemp,
``pytest-of-<user>/pytest-current/<test name>0/``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from repfit import wire
from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.bus import Bus
from repfit.host.caps import rules_from_tables
from repfit.host.livepage import LivePage, WebAddress
from repfit.host.liveviews import LiveViews
from repfit.host.store import Store

pytestmark = pytest.mark.slow


def chromium() -> str:
    """Debian's chromium; CI installs it (REPFIT_REQUIRE_CHROMIUM makes its absence fail)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("REPFIT_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required (REPFIT_REQUIRE_CHROMIUM is set)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


class Results:
    """A HostObserver that only waits for the result."""

    def __init__(self) -> None:
        self.results: list[wire.Result] = []
        self.done = asyncio.Event()

    def assignment(self, a: wire.Assignment) -> None: ...
    def progress(self, p: wire.Progress) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...

    def result(self, r: wire.Result) -> None:
        self.results.append(r)
        self.done.set()


# Records every rendering of the count and the bar, in order, from inside the page.
WATCH = """() => {
  window.seen = [];
  const note = () => window.seen.push([document.getElementById('count').textContent,
                                       document.getElementById('bar').style.width]);
  new MutationObserver(note).observe(document.getElementById('active'),
                                     {subtree: true, childList: true, attributes: true,
                                      characterData: true});
}"""


def test_the_page_follows_a_set_to_its_target(mosquitto: MqttSettings, tmp_path: Path,
                                              user: str) -> None:
    from playwright.async_api import async_playwright

    browser_path = chromium()
    target = 6

    caps = rules_from_tables({"caps": {"reps_per_day": 50, "timezone": "UTC"}}, user)

    async def scenario() -> list[list[str]]:
        observer = Results()
        with Store.in_dir(tmp_path / "data") as store:
            async with Bus(mosquitto, user=user) as host_bus, \
                    Bus(mosquitto, user=user, role="wearable") as athlete_bus, \
                    Bus(mosquitto, user=user, role="trainer") as trainer_bus, \
                    LiveViews(host_bus, store, user, tz=_utc(),
                              web=WebAddress("127.0.0.1", 0), caps=caps) as views:
                assert views.page is not None
                host = views.workout_host(observer, tick_s=0.1, caps=caps)
                tasks = [asyncio.create_task(host.run())]
                await host.ready.wait()
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=browser_path,
                                                       args=["--no-sandbox"])
                    # The page forbids eval; the test's probes are evaluated strings.
                    context = await browser.new_context(
                        bypass_csp=True, viewport={"width": 390, "height": 844})
                    page = await context.new_page()
                    await page.goto(views.page.url)
                    await page.wait_for_function(
                        "document.getElementById('link').textContent === 'live'")
                    await page.evaluate(WATCH)
                    tasks.append(asyncio.create_task(perform_assignments(
                        athlete_bus, Athlete(speed=3.0, seed=2), limit=1)))
                    trainer_bus.publish(wire.Assignment(
                        id=f"{user}-1", exercise="squat", target=target,
                        issued_at=time.time(), label="squats"))
                    await page.wait_for_function(
                        "Number(document.getElementById('count').textContent) >= 2",
                        timeout=60_000)
                    await page.screenshot(path=tmp_path / "live-page-during-set.png")
                    await asyncio.wait_for(observer.done.wait(), 60)
                    await page.wait_for_function(
                        "document.getElementById('last').textContent.includes('completed')")
                    await page.wait_for_function(
                        "document.getElementById('w-connected').textContent === 'yes'")
                    # The history charts and the set's own plot load after the result.
                    await page.wait_for_function(
                        "!document.getElementById('history-box').hidden"
                        " && document.getElementById('charts').naturalWidth > 0"
                        " && !document.getElementById('set-box').hidden"
                        " && document.getElementById('set').naturalWidth > 0",
                        timeout=60_000)
                    await page.screenshot(path=tmp_path / "live-page.png", full_page=True)
                    seen: list[list[str]] = await page.evaluate("window.seen")
                    today = await page.text_content("#today")
                    caps_left = await page.text_content("#caps")
                    await browser.close()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        assert observer.results[0].completed
        assert today is not None and "squats" in today and f"{target} reps" in today
        assert caps_left is not None and f"{50 - target} left of 50" in caps_left
        return seen

    seen = asyncio.run(scenario())
    counts = [int(c) for c, _ in seen]
    widths = [float(w.rstrip("%")) for _, w in seen if w]
    assert max(counts) == target, seen
    assert counts == sorted(counts)
    assert len(set(widths)) >= 3 and widths == sorted(widths) and widths[-1] == 100.0
    assert (tmp_path / "live-page.png").stat().st_size > 0


def test_off_localhost_the_browser_needs_the_token(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from repfit.host.liveboard import LiveBoard

    browser_path = chromium()

    async def scenario() -> None:
        async with LivePage(LiveBoard("ada"), "0.0.0.0", 0) as live, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=browser_path,
                                               args=["--no-sandbox"])
            page = await (await browser.new_context(bypass_csp=True)).new_page()
            base = f"http://127.0.0.1:{live.port}/"
            response = await page.goto(base)
            assert response is not None and response.status == 401
            assert "token" in (await page.text_content("body") or "")
            response = await page.goto(f"{base}?token={live.token}")
            assert response is not None and response.status == 200
            await page.wait_for_function(
                "document.getElementById('link').textContent === 'live'")
            assert await page.text_content("#user") == "ada"
            await page.screenshot(path=tmp_path / "live-page-token.png")
            await browser.close()

    asyncio.run(scenario())


def _utc() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")
