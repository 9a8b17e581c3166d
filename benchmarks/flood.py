"""Does a flood of garbage and invented devices stop a real set from being verified?

A private Mosquitto, a `repfit host` process (default log level, as a user runs it) and a
legitimate 20-rep squat set streamed at twice real time. The set runs twice: alone (the
baseline) and while another process publishes ``--rate`` messages a second for
``--flood-s`` seconds: malformed payloads on every topic the host reads, and one-sample
batches each from a new device name. Reported: whether the set was verified and with which
count in each run, the host's resident memory when idle and at its peak during the flood
(ratio), its CPU time, the log lines it wrote, and the rate the flooder achieved.

Targets (issue 16): same count as the baseline, peak memory < 2x idle, < 100 log lines.

Usage::

    python benchmarks/flood.py [--rate 10000] [--flood-s 30] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from _report import machine, write_section

from repfit import wire
from repfit.config import MqttSettings
from repfit.detection import RepCounter
from repfit.detection.simulate import simulate_set
from repfit.host.bus import Bus

USER = "bench"
BATCH = 25                  # samples per message, 0.5 s at 50 Hz
SPEED = 2.0                 # the set is streamed at twice real time


@dataclass(frozen=True)
class Run:
    name: str
    result: wire.Result | None
    idle_kib: int
    peak_kib: int
    cpu_s: float
    log_lines: int
    sent: int
    flood_s: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(folder: Path, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    f"user {getpass.getuser()}\nmax_queued_messages 100000\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(port: int, rate: float, seconds: float, sent: multiprocessing.Value) -> None:  # type: ignore[type-arg]
    """Publish garbage and new device names at ``rate`` messages a second (QoS 0)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flooder")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    garbage = [
        (f"repfit/{USER}/assignment", b"{oops"),
        (f"repfit/{USER}/cue", b'{"v":1,"type":"cue","kind":"fanfare"}'),
        (f"repfit/{USER}/samples/w", b'{"v":1,"type":"samples","device":"w","t":[0,1],'
                                     b'"acc":[[0,0,1]]}'),
        (f"repfit/{USER}/samples/x", os.urandom(64)),
        (f"repfit/{USER}/assignment", b'{"v":2,"type":"assignment"}'),
    ]
    n = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while n < due:
            if n % 2:
                topic, payload = garbage[n % len(garbage)]
            else:
                device = f"d{n}"
                topic = f"repfit/{USER}/samples/{device}"
                payload = (f'{{"v":1,"type":"samples","device":"{device}","seq":0,'
                           f'"t":[{n * 0.01:.2f}],"acc":[[0,0,1]]}}').encode()
            client.publish(topic, payload, qos=0)
            n += 1
        time.sleep(0.002)
    sent.value = n
    client.disconnect()
    client.loop_stop()


async def stream_set(settings: MqttSettings, target: int, with_flood: bool, port: int,
                     host: subprocess.Popen[str], rate: float, flood_s: float,
                     name: str) -> tuple[wire.Result | None, int, int, int, float]:
    rec = simulate_set("squat", reps=20, seed=5, cadence_s=2.0, rest_before_s=2.0,
                       rest_after_s=2.0)
    a = wire.Assignment(id=f"{name}-{time.time():.0f}", exercise="squat", target=target,
                        issued_at=time.time(), deadline_s=300)
    peak = 0
    sent = multiprocessing.Value("l", 0)
    flooder: multiprocessing.Process | None = None
    async with Bus(settings, user=USER, role="trainer") as bus:
        await bus.subscribe("status", "result")
        async for incoming in bus.messages():
            m = incoming.message
            if isinstance(m, wire.Status) and m.role == "host" and m.online:
                break
        await asyncio.sleep(3.0)
        idle = rss_kib(host.pid)
        cpu0 = cpu_s(host.pid)
        if with_flood:
            flooder = multiprocessing.Process(target=flood, args=(port, rate, flood_s, sent))
            flooder.start()
            await asyncio.sleep(2.0)
        bus.publish(a)
        await asyncio.sleep(0.5)
        for i in range(0, len(rec.t), BATCH):
            bus.publish(wire.SampleBatch("wrist", rec.t[i:i + BATCH], rec.acc[i:i + BATCH],
                                         seq=i))
            peak = max(peak, rss_kib(host.pid))
            await asyncio.sleep(BATCH / 50.0 / SPEED)
        result: wire.Result | None = None
        try:
            async with asyncio.timeout(max(flood_s, 30.0) + 60.0):
                async for incoming in bus.messages():
                    peak = max(peak, rss_kib(host.pid))
                    m = incoming.message
                    if isinstance(m, wire.Result) and m.assignment_id == a.id:
                        result = m
                        break
        except TimeoutError:
            pass
        if flooder is not None:
            while flooder.is_alive():
                peak = max(peak, rss_kib(host.pid))
                await asyncio.sleep(0.5)
            flooder.join()
        return result, idle, peak, sent.value, cpu_s(host.pid) - cpu0


def run_once(name: str, with_flood: bool, rate: float, flood_s: float, target: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="repfit-flood-") as tmp:
        folder = Path(tmp)
        port = free_port()
        broker = start_mosquitto(folder, port)
        settings = MqttSettings(host="127.0.0.1", port=port)
        log = (folder / "host.log").open("w+")
        host = subprocess.Popen(
            [sys.executable, "-m", "repfit", "host", "--broker", settings.url, "--user", USER,
             "--data-dir", str(folder / "data"), "--no-sound"],
            stdout=subprocess.DEVNULL, stderr=log, text=True,
            env={**os.environ, "XDG_CONFIG_HOME": str(folder / "cfg")})
        try:
            result, idle, peak, sent, cpu = asyncio.run(stream_set(
                settings, target, with_flood, port, host, rate, flood_s, name))
        finally:
            host.send_signal(signal.SIGINT)
            try:
                host.wait(30)
            except subprocess.TimeoutExpired:
                host.kill()
            broker.terminate()
            broker.wait(10)
        log.seek(0)
        lines = [line for line in log.read().splitlines() if line.strip()]
        log.close()
        return Run(name, result, idle, peak, cpu, len(lines), sent,
                   flood_s if with_flood else 0.0)


def describe(runs: list[Run], rate: float, command: str) -> str:
    base, flooded = runs
    rows = ["| run | verified | reps | idle RSS (MiB) | peak RSS (MiB) | peak / idle "
            "| host CPU (s) | log lines | messages sent (rate) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        res = r.result
        rate_text = f"{r.sent:,} ({r.sent / r.flood_s:,.0f}/s)" if r.flood_s else "-"
        rows.append(f"| {r.name} | {'yes' if res and res.completed else 'no'} | "
                    f"{res.reps if res else '-'} | {r.idle_kib / 1024:.1f} | "
                    f"{r.peak_kib / 1024:.1f} | {r.peak_kib / max(r.idle_kib, 1):.2f} | "
                    f"{r.cpu_s:.1f} | {r.log_lines} | {rate_text} |")
    same = (base.result is not None and flooded.result is not None
            and base.result.reps == flooded.result.reps and flooded.result.completed)
    verdict = (f"Same count as the baseline: **{'yes' if same else 'no'}**; peak memory "
               f"{flooded.peak_kib / max(flooded.idle_kib, 1):.2f}x idle (target < 2); "
               f"{flooded.log_lines} log lines (target < 100).")
    return "\n".join([
        "## Host under a flood (`benchmarks/flood.py`)", "",
        f"Command: `{command}` -- machine: {machine()}.", "",
        f"A 20-rep squat set streamed at {SPEED:g}x real time to a `repfit host` process "
        f"(default log level) through a private Mosquitto; in the second run another process "
        f"publishes, at a requested {rate:,.0f} messages a second, malformed payloads on the "
        "assignment, cue and samples topics and one-sample batches each from a new device "
        "name. Memory is the host's resident set size; the flooder's achieved rate is shown "
        "(one Python publisher on a shared machine may fall short of the request).", "",
        *rows, "", verdict])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--flood-s", type=float, default=30.0)
    parser.add_argument("--write", type=Path, metavar="DOC")
    args = parser.parse_args()
    rec = simulate_set("squat", reps=20, seed=5, cadence_s=2.0, rest_before_s=2.0,
                       rest_after_s=2.0)
    counter = RepCounter("squat")
    for i in range(0, len(rec.t), BATCH):
        counter.feed(rec.t[i:i + BATCH], rec.acc[i:i + BATCH])
    target = counter.count        # what the counter finds in the set: the baseline's target
    runs = [run_once("alone", False, args.rate, args.flood_s, target),
            run_once("flooded", True, args.rate, args.flood_s, target)]
    command = "python benchmarks/flood.py" + (
        f" --rate {args.rate:g}" if args.rate != 10_000 else "") + (
        f" --flood-s {args.flood_s:g}" if args.flood_s != 30 else "") + (
        f" --write {args.write}" if args.write else "")
    text = describe(runs, args.rate, command)
    print(text)
    if args.write:
        write_section(args.write, "flood", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
