"""How long from a counted rep in the host to the live page showing it, and how heavy the page is.

Real parts throughout: the host (`WorkoutHost` with the live views), a simulated athlete
streaming sets over a real MQTT broker (Mosquitto, or any ``--broker``), and the page in
headless Chromium (Debian's package, driven by Playwright). For every rep:

* **host**: the wall time the host published the new count (to MQTT, then its observers);
* **page**: the wall time the page's count element changed (a MutationObserver inside the
  page, on the browser's clock, which is the same machine's clock);
* **baseline**: the wall time an MQTT client received the host's retained ``progress``
  message with that count (what any other subscriber of the contract gets), measured in the
  same run.

Reported: p50/p95 of page - host and of baseline - host, their ratio, with one page alone
and with ``--tabs`` more event streams open (50 by default, read by plain sockets); the
page's weight (HTML and the first event) in bytes. Target (issue 20): p95 <= 0.5 s.

Usage::

    python benchmarks/live_page.py [--sets 3] [--reps 10] [--speed 2] [--tabs 50]
        [--broker mqtt://127.0.0.1:1883] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from _report import machine, write_section

from repfit import wire
from repfit.config import MqttSettings, parse_broker_url
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.bus import Bus
from repfit.host.livepage import WebAddress, page_html
from repfit.host.liveviews import LiveViews
from repfit.host.store import Store

WATCH = """() => {
  window.seen = [];
  if (window.watching) return;
  window.watching = true;
  const count = document.getElementById('count');
  new MutationObserver(() => window.seen.push(
      [count.textContent, performance.timeOrigin + performance.now()]))
    .observe(count, {childList: true, characterData: true, subtree: true});
}"""


class HostTimes:
    """A HostObserver noting when the host reported each new count of each assignment."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self.results: asyncio.Queue[wire.Result] = asyncio.Queue()

    def assignment(self, a: wire.Assignment) -> None: ...
    def cue(self, c: wire.Cue) -> None: ...

    def progress(self, p: wire.Progress) -> None:
        self.at.setdefault((p.assignment_id, p.reps), time.time())

    def result(self, r: wire.Result) -> None:
        self.results.put_nowait(r)


def _baseline(settings: MqttSettings, user: str, at: dict[tuple[str, int], float]) -> mqtt.Client:
    """An MQTT subscriber of the host's progress messages, noting when each count arrives."""

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        _, p = wire.decode(msg.topic, msg.payload)
        if isinstance(p, wire.Progress):
            at.setdefault((p.assignment_id, p.reps), now)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(wire.topic_for(user, "progress"), 0)
    client.connect(settings.host, settings.port)
    client.loop_start()
    return client


async def _tab(port: int) -> None:
    """One more open page: an event stream read and thrown away."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        while await reader.read(65536):
            pass
    finally:
        writer.close()


async def run(settings: MqttSettings, *, sets: int, reps: int, speed: float, tabs: int,
              chromium: str) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    user = f"bench{uuid.uuid4().hex[:8]}"
    host_times = HostTimes()
    mqtt_times: dict[tuple[str, int], float] = {}
    baseline = _baseline(settings, user, mqtt_times)
    with tempfile.TemporaryDirectory() as tmp, Store.in_dir(Path(tmp)) as store:
        async with Bus(settings, user=user) as host_bus, \
                Bus(settings, user=user, role="wearable") as athlete_bus, \
                Bus(settings, user=user, role="trainer") as trainer_bus, \
                LiveViews(host_bus, store, user, ZoneInfo("UTC"),
                          web=WebAddress("127.0.0.1", 0)) as views:
            assert views.page is not None
            host = views.workout_host(host_times, tick_s=0.1)
            # The host publishes a count to MQTT just before it tells its observers: the
            # clock starts at whichever comes first.
            publish = host_bus.publish

            def timed_publish(message: wire.Message, **kw: Any) -> Any:
                if isinstance(message, wire.Progress):
                    host_times.progress(message)
                return publish(message, **kw)

            host_bus.publish = timed_publish  # type: ignore[method-assign]
            tasks = [asyncio.create_task(host.run())]
            await host.ready.wait()
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium,
                                                   args=["--no-sandbox"])
                context = await browser.new_context(bypass_csp=True,
                                                    viewport={"width": 390, "height": 844})
                page = await context.new_page()
                await page.goto(views.page.url)
                await page.wait_for_function(
                    "document.getElementById('link').textContent === 'live'")
                rows: dict[str, list[tuple[float, float]]] = {}
                for condition, extra in (("1 page", 0), (f"1 page + {tabs} streams", tabs)):
                    extra_tabs = [asyncio.create_task(_tab(views.page.port))
                                  for _ in range(extra)]
                    delays: list[tuple[float, float]] = []
                    for k in range(sets):
                        a = wire.Assignment(id=f"{user}-{len(rows)}-{k}", exercise="squat",
                                            target=reps, issued_at=time.time())
                        await page.evaluate(WATCH)
                        # One athlete per set, who does a little more than asked (a set
                        # ends when its target is counted).
                        athlete = asyncio.create_task(perform_assignments(
                            athlete_bus, Athlete(speed=speed, seed=k, effort=1.5,
                                                 device=f"sim{len(rows)}{k}"), limit=1))
                        trainer_bus.publish(a)
                        await asyncio.wait_for(host_times.results.get(), 120)
                        await asyncio.wait_for(athlete, 120)
                        seen: list[list[Any]] = await page.evaluate("window.seen")
                        delays += _delays(a.id, seen, host_times.at, mqtt_times)
                    rows[condition] = delays
                    for t in extra_tabs:
                        t.cancel()
                    await asyncio.gather(*extra_tabs, return_exceptions=True)
                await browser.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            first_event = len(views.page.event_bytes(views.board.snapshot()))
            chart = await views.charts_png()
    baseline.disconnect()
    baseline.loop_stop()
    return {"rows": rows, "html_bytes": len(page_html()), "event_bytes": first_event,
            "chart_bytes": len(chart) if chart else None}


def _delays(assignment_id: str, seen: list[list[Any]],
            host_at: dict[tuple[str, int], float],
            mqtt_at: dict[tuple[str, int], float]) -> list[tuple[float, float]]:
    """(page, baseline) delay in seconds for each rep of one set."""
    out = []
    for text, at_ms in seen:
        key = (assignment_id, int(text))
        if key[1] > 0 and key in host_at and key in mqtt_at:
            out.append((at_ms / 1000 - host_at[key], mqtt_at[key] - host_at[key]))
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 \
        else values[0]


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "## Live page: rep to page latency and page weight (`benchmarks/live_page.py`)", "",
        f"Command: `python benchmarks/live_page.py --sets {args.sets} --reps {args.reps} "
        f"--speed {args.speed:g} --tabs {args.tabs} --write docs/benchmarks.md` -- "
        f"machine: {machine()}. Broker: Mosquitto on the same machine; browser: Debian's "
        "headless Chromium.", "",
        "Time from the host publishing a new count to the page's count element changing "
        "(page), beside the time to an MQTT subscriber of the host's progress messages "
        "(baseline), same reps, same run. Target: page p95 <= 0.5 s.", "",
        "| condition | reps | page p50 | page p95 | baseline p50 | baseline p95 | "
        "p50 ratio page/baseline | target met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for condition, pairs in result["rows"].items():
        page, base = [p for p, _ in pairs], [b for _, b in pairs]
        if not page:
            lines.append(f"| {condition} | 0 | - | - | - | - | - | no data |")
            continue
        p50, p95, b50, b95 = _pct(page, 50), _pct(page, 95), _pct(base, 50), _pct(base, 95)
        ok = "yes" if p95 <= 0.5 else "**no**"
        ratio = f"{p50 / b50:.2f}" if b50 > 0 else "-"
        lines.append(f"| {condition} | {len(page)} | {p50 * 1000:.1f} ms | {p95 * 1000:.1f} ms "
                     f"| {b50 * 1000:.1f} ms | {b95 * 1000:.1f} ms | {ratio} | {ok} |")
    lines += ["", f"Page weight: {result['html_bytes']} bytes of HTML (script and style "
              f"inline, nothing else to load), then {result['event_bytes']} bytes for the "
              "first event (the whole state); each later event is one such snapshot. "
              + (f"The history charts image (loaded once per result) was "
                 f"{result['chart_bytes']} bytes." if result["chart_bytes"] else
                 "No history charts (matplotlib not installed).")]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--speed", type=float, default=2.0)
    p.add_argument("--tabs", type=int, default=50)
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    p.add_argument("--write", type=Path, default=None)
    args = p.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs Debian's chromium (apt-get install -y chromium)", file=sys.stderr)
        return 2
    result = asyncio.run(run(parse_broker_url(args.broker), sets=args.sets, reps=args.reps,
                             speed=args.speed, tabs=args.tabs, chromium=chromium))
    text = report(result, args)
    print(text)
    if args.write:
        write_section(args.write, "live-page", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
