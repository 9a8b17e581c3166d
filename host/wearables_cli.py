"""``repfit scan`` and ``repfit stream``: find wearables, watch one stream live.

``scan`` lists nearby supported BLE devices. ``stream`` connects to one (``--device``), to a
phone (``--phone``) or to a replayed simulated device (``--replay``, no hardware: simulated
motion, encoded byte-exactly, through the real decoding and connection logic) and shows
live acceleration, the sample rate actually received, losses, battery and - with
``--exercise`` - reps as the counter confirms them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from repfit.host.sources import SourceError, WearableSource, open_source
from repfit.host.wearing import add_position_arg, position_setting

if TYPE_CHECKING:
    from repfit.config import MqttSettings

__all__ = ["StreamStatus", "add_scan_parser", "add_source_args", "add_stream_parser",
           "describe_status", "open_from_args", "run_scan", "run_stream"]

KINDS = ("repfit", "microbit", "polar", "witmotion", "thingy52")
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")


def add_scan_parser(sub: Any) -> None:
    p = sub.add_parser("scan", help="list nearby supported BLE wearables",
                       description="Scan for BLE devices repfit can read (its own firmware, "
                                   "micro:bit, Polar H10/Verity Sense, WitMotion, Thingy:52), "
                                   "filtered by advertised service UUID or name.")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="seconds to listen for advertisements (default: 5)")


def add_stream_parser(sub: Any) -> None:
    p = sub.add_parser("stream", help="stream one wearable live (acceleration, rate, loss, reps)",
                       description="Connect to one wearable and show what arrives. Exactly one "
                                   "of --device, --phone, --replay.")
    add_source_args(p, required=True)
    p.add_argument("--exercise", default=None,
                   help="count reps of this exercise as they happen (one without a profile "
                        "is counted as generic rhythmic motion)")
    p.add_argument("--seconds", type=float, default=None, metavar="S",
                   help="stop after S seconds of samples (default: until Ctrl+C)")
    add_position_arg(p)


def add_source_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The options that choose a wearable (shared by ``repfit stream`` and ``repfit host``)."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--device", metavar="ADDRESS|NAME",
                     help="BLE address, or a name (prefix) found by scanning")
    src.add_argument("--phone", metavar="URL",
                     help="broker that Sensor Logger publishes to, e.g. mqtt://127.0.0.1:1883 "
                          "or mqtts://...; logs in with the URL's user:password@ or the "
                          "configured login and TLS files (see docs/phone.md)")
    src.add_argument("--replay", metavar="EXERCISE",
                     help="no hardware: a simulated set of EXERCISE replayed as repfit BLE "
                          "notifications through the real decoder and connection manager")
    p.add_argument("--kind", choices=KINDS, default=None,
                   help="device kind when --device is an address (default: from the scan)")
    p.add_argument("--rate", type=float, default=None, metavar="HZ", help="sample rate to request")
    p.add_argument("--range", dest="range_g", type=float, default=None, metavar="G",
                   help="full-scale range to request (repfit firmware, Polar)")
    p.add_argument("--phone-topic", default="sensor-logger", help="Sensor Logger topic")
    p.add_argument("--phone-device", default=None, help="only this Sensor Logger deviceId")
    p.add_argument("--speed", type=float, default=1.0,
                   help="--replay playback speed (1 = real time)")
    p.add_argument("--drop", type=float, default=0.0, metavar="FRACTION",
                   help="--replay: fraction of notifications lost on air (default: 0)")


# --------------------------------------------------------------------------- scan

def run_scan(args: argparse.Namespace) -> int:
    from repfit.host.sources import NoAdapter
    from repfit.host.sources._ble import scan

    console = Console()
    try:
        found = asyncio.run(scan(args.timeout))
    except NoAdapter as err:
        console.print(f"repfit scan: {err}", style="red", markup=False, highlight=False,
                      soft_wrap=True)
        return 4
    if not found:
        console.print(f"no supported devices seen in {args.timeout:g} s")
        return 0
    table = Table("name", "address", "kind", "RSSI")
    for d in found:
        table.add_row(d.name, d.address, d.kind, "" if d.rssi is None else f"{d.rssi} dBm")
    console.print(table)
    return 0


# --------------------------------------------------------------------------- stream

@dataclass
class StreamStatus:
    """What ``repfit stream`` shows; updated per batch (pure bookkeeping)."""

    device: str
    samples: int = 0
    lost: int = 0
    acc: tuple[float, float, float] = (0.0, 0.0, 0.0)
    battery: int | None = None
    reps: int | None = None
    t_first: float | None = None
    t_last: float | None = None
    ended: str | None = None
    """Why the stream ended on its own (device gone), if it did."""
    _window: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, t: Any, acc: Any, lost_before: int) -> None:
        n = len(t)
        if n == 0:
            return
        self.samples += n
        self.lost += lost_before
        self.acc = (float(acc[-1, 0]), float(acc[-1, 1]), float(acc[-1, 2]))
        if self.t_first is None:
            self.t_first = float(t[0])
        self.t_last = float(t[-1])
        self._window.append((self.t_last, n))
        while self._window and self._window[0][0] < self.t_last - 2.0:
            self._window.popleft()

    @property
    def rate_hz(self) -> float:
        """Samples received per second over the last ~2 s (on the stream's clock)."""
        if len(self._window) < 2:
            return 0.0
        span = self._window[-1][0] - self._window[0][0]
        return sum(n for _, n in list(self._window)[1:]) / span if span > 0 else 0.0

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.t_first is None or self.t_last is None else self.t_last - self.t_first


def describe_status(s: StreamStatus) -> str:
    """One status line, e.g. ``wrist  x +0.02 y -0.98 z +0.11 g | 99.8 Hz | lost 0 | ...``."""
    x, y, z = s.acc
    total = s.samples + s.lost
    loss = f"lost {s.lost} ({100 * s.lost / total:.1f}%)" if total else "lost 0"
    parts = [f"{s.device}  x {x:+.2f} y {y:+.2f} z {z:+.2f} g", f"{s.rate_hz:5.1f} Hz", loss]
    if s.battery is not None:
        parts.append(f"battery {s.battery}%")
    if s.reps is not None:
        parts.append(f"reps {s.reps}")
    return " | ".join(parts)


async def stream(src: WearableSource, *, exercise: str | None, seconds: float | None,
                 show: Callable[[StreamStatus], None],
                 on_rep: Callable[[int, float], None],
                 position: str | None = None) -> StreamStatus:
    """Consume ``src`` until ``seconds`` of samples, the end of the stream, or cancellation.
    ``position``: where the sensor is worn (an exercise refused there counts nothing)."""
    counter = None
    if exercise:
        from repfit.detection import RepCounter

        counter = RepCounter(exercise, position=position)
    status = StreamStatus(src.name, reps=0 if counter else None)
    last_show = 0.0
    async with src:
        try:
            async for batch in src.samples():
                status.add(batch.t, batch.acc, batch.lost_before)
                status.battery = getattr(src, "battery_percent", None)
                status.device = src.name
                if counter is not None:
                    update = counter.feed(batch.t, batch.acc)
                    _report(update, status, on_rep)
                now = time.monotonic()
                if now - last_show >= 0.25:
                    show(status)
                    last_show = now
                if seconds is not None and status.elapsed_s >= seconds:
                    break
        except SourceError as err:
            status.ended = str(err)
    if counter is not None:
        _report(counter.finish(), status, on_rep)
    show(status)
    return status


def _report(update: Any, status: StreamStatus, on_rep: Callable[[int, float], None]) -> None:
    """Number this update's rep events (one update may confirm several at once)."""
    first = update.count - len(update.events) + 1
    for k, ev in enumerate(update.events):
        on_rep(first + k, ev.t - (status.t_first or 0.0))
    status.reps = update.count


def _replay_source(args: argparse.Namespace) -> WearableSource:
    import numpy as np

    from repfit.detection.simulate import simulate_set
    from repfit.host.sources._ble import BleWearable, Reconnect
    from repfit.host.sources._devices import REPFIT_CONTROL, profile_for
    from repfit.host.sources._replay import ReplayDevice, Session, encode_recording

    rate = int(args.rate or 100)
    # The simulated wearable sits where --position says (the counter is told the same).
    rec = simulate_set(args.replay, fs_hz=rate, seed=1,
                       position=getattr(args, "position", None) or "wrist")
    packets = encode_recording(rec.acc, rate_hz=rate, range_code=2)
    rng = np.random.default_rng(1)
    period = 38 / rate
    notes = [(period, p) for p in packets if rng.random() >= args.drop]
    # The control characteristic reads back what the firmware runs: streaming, +-8 g, rate.
    state = bytes([1, 2]) + rate.to_bytes(2, "little")
    device = ReplayDevice([Session(notes)], pace=args.speed, reads={REPFIT_CONTROL: state})
    return BleWearable(device.factory, profile_for("repfit", rate_hz=rate, range_g=8),
                       name=f"replay-{args.replay}", clock=device.clock,
                       policy=Reconnect(max_attempts=1))


def open_from_args(args: argparse.Namespace, console: Console,
                   mqtt: MqttSettings | None = None) -> WearableSource:
    """The source chosen by `add_source_args` options (scans first when given a name).

    ``mqtt`` is the configured broker login and TLS for ``--phone`` (read from the config
    when omitted). Call it outside a running event loop: resolving a name runs a short scan,
    and an address is preceded by a 0.1 s scan that checks the machine has Bluetooth.

    Raises
    ------
    NoAdapter
        No usable Bluetooth adapter (for ``--device``).
    DeviceNotFound
        ``--device NAME`` matched nothing advertising.
    """
    if args.replay:
        return _replay_source(args)
    if args.phone:
        if mqtt is None:
            from repfit.config import load

            mqtt = load(getattr(args, "config", None)).mqtt
        return open_source("phone", broker_url=args.phone, topic=args.phone_topic,
                           device_id=args.phone_device, credentials=mqtt)
    address, kind = args.device, args.kind
    from repfit.host.sources._ble import find_device, probe_adapter

    if _ADDRESS.match(address) and kind is not None:
        # Fails at once, in one line, on a machine without Bluetooth (the connection
        # manager would otherwise retry a link that can never come up).
        asyncio.run(probe_adapter())
    else:
        console.print(f"scanning for {address!r} ...")
        found = asyncio.run(find_device(address))
        address, kind = found.address, kind or found.kind
        console.print(f"found {found.name} ({found.address}, {found.kind}, {found.rssi} dBm)")
    return open_source("ble", address=address, device_kind=kind, rate_hz=args.rate,
                       range_g=args.range_g)


def run_stream(args: argparse.Namespace) -> int:
    console = Console()
    args.position = position = position_setting({}, given=args.position)  # or ConfigError
    if args.exercise:
        from repfit.detection import position_refusal
        from repfit.host.session import counter_exercise

        args.exercise = counter_exercise(args.exercise)
        refusal = position_refusal(args.exercise, position) if position else None
        if refusal is not None:
            console.print(f"repfit stream: refused, no reps counted: {refusal}",
                          style="yellow", markup=False, soft_wrap=True)
    try:
        src = open_from_args(args, console)
    except ValueError as err:
        console.print(f"repfit stream: {err}", style="red", markup=False, soft_wrap=True)
        return 2
    except SourceError as err:
        console.print(f"repfit stream: {err}", style="red", markup=False, soft_wrap=True)
        return 3

    live = console.is_terminal

    def show(s: StreamStatus) -> None:
        line = describe_status(s)
        if live:
            console.print(line, end="\r", soft_wrap=True, highlight=False)
        else:
            console.print(line, highlight=False)

    def on_rep(n: int, at_s: float) -> None:
        console.print(f"rep {n} at {at_s:.1f} s" + (" " * 20 if live else ""), highlight=False)

    try:
        status = asyncio.run(stream(src, exercise=args.exercise, seconds=args.seconds,
                                    show=show, on_rep=on_rep, position=position))
    except KeyboardInterrupt:
        return 130
    except SourceError as err:  # could not connect at all
        console.print(f"repfit stream: {err}", style="red", markup=False, soft_wrap=True)
        return 3
    except ConnectionError as err:
        console.print(f"repfit stream: {err}", style="red", markup=False, soft_wrap=True)
        return 3
    if status.ended and not args.replay:
        console.print(f"\n[yellow]repfit stream: {status.ended}[/]")
    console.print(f"\nstreamed {status.samples} samples in {status.elapsed_s:.1f} s, "
                  f"lost {status.lost}" + (f", {status.reps} reps" if status.reps is not None
                                           else ""), highlight=False)
    return 3 if status.ended and not args.replay else 0
