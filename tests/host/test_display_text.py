"""Text from the wire is shown as text: escapes, markup and newlines never act.

The end-to-end test sends hostile text through the embedded broker (Mosquitto refuses
control characters in topics and disconnects the sender; amqtt passes them on) to a real
`WorkoutHost` rendering with the real `ConsoleObserver` on a terminal console.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from rich.console import Console

from repfit import wire
from repfit.config import MqttSettings
from repfit.display_text import OneLineFormatter, markup, plain
from repfit.host.broker import EmbeddedBroker
from repfit.host.bus import Bus
from repfit.host.console import ConsoleObserver, describe_assignment
from repfit.host.service import WorkoutHost
from repfit.host.store import Store

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[H"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
MARKUP = "[link=http://evil.example/]here[/link] [bold]loud[/bold]"
HOSTILE = f"{TITLE}{CLEAR}{LINK} {MARKUP}\nERROR forged line"
#: What the terminal must never receive: the hostile sequences themselves.
ACTIVE = ("\x1b]0;", "\x1b[2J", "\x1b]8;", "\x07", "\nERROR forged")


def _assert_inert(out: str) -> str:
    """Checks ``out``; returns it without rich's own colours (SGR), to look for text."""
    for seq in ACTIVE:
        assert seq not in out, f"{seq!r} reached the output"
    return re.sub(r"\x1b\[[0-9;]*m", "", out)


def test_plain_shows_controls_as_escapes() -> None:
    shown = plain(HOSTILE, None)
    assert "\x1b" not in shown and "\n" not in shown and "\x07" not in shown
    assert shown.startswith("\\x1b]0;pwned\\x07\\x1b[2J")
    assert shown.endswith("\\nERROR forged line")
    assert plain("right-to-left \u202e override, \ud800 surrogate, \u200b zero width") == \
        "right-to-left \\u202e override, \\ud800 surrogate, \\u200b zero width"
    assert plain("squats — 10 times — start") == "squats — 10 times — start"
    assert plain("x" * 500) == "x" * 200 + "…"
    assert plain(shown, None) == shown  # shown text stays as it is


def test_markup_escapes_rich_markup() -> None:
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, width=400).print(f"[cyan]x[/] {markup(HOSTILE)}")
    out = _assert_inert(buf.getvalue())
    assert MARKUP in out  # printed literally, not rendered as a link and bold


def test_console_renders_received_text_as_text() -> None:
    buf = io.StringIO()
    observer = ConsoleObserver(Console(file=buf, force_terminal=True, width=400))
    a = wire.Assignment(id="a1", exercise="squat", target=5, text=HOSTILE)
    observer.assignment(a)
    observer.cue(wire.Cue("announce", "a1", text=HOSTILE))
    observer.progress(wire.Progress("a1", "squat", 1, 5, rejected=1, last_reason=HOSTILE))
    observer.close()  # the bar's last frame shows the refusal's reason
    observer.result(wire.Result("a1", "squat", False, "cancelled", 1, 5))
    out = _assert_inert(buf.getvalue())
    assert out.count(MARKUP) == 3  # announcement, cue, and the refusal in the progress bar
    assert "\\nERROR forged line" in out


def test_describe_gives_plain_text_for_print() -> None:
    # Stored assignments from before the wire's charset rules are shown as text too.
    a = wire.Assignment(id="a1", exercise="squat\x1b[2J\nforged", target=5)
    assert describe_assignment(a) == "squat\\x1b[2J\\nforged - 5 reps"


def test_log_records_stay_one_line() -> None:
    record = logging.LogRecord("repfit.host.bus", logging.WARNING, __file__, 1,
                               "dropped a message on %s: %s", ("t\nERROR forged", TITLE), None)
    line = OneLineFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line == ("WARNING repfit.host.bus: dropped a message on t\\nERROR forged: "
                    "\\x1b]0;pwned\\x07")


@pytest.fixture
def host_log() -> Iterator[io.StringIO]:
    """The repfit logs as the CLI formats them."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("repfit")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield buf
    logger.removeHandler(handler)
    logger.setLevel(level)


def _publish(port: int, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload in items:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_hostile_text_through_a_broker_is_shown_as_text(tmp_path, host_log) -> None:
    user = "display"
    screen = io.StringIO()

    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            settings = MqttSettings(port=broker.port)
            observer = ConsoleObserver(Console(file=screen, force_terminal=True, width=400))
            with Store.in_dir(tmp_path) as store:
                async with Bus(settings, user=user, role="host") as bus:
                    host = WorkoutHost(bus, store, observer=observer)
                    serving = asyncio.create_task(host.run())
                    await asyncio.wait_for(host.ready.wait(), 10)
                    assignment = wire.Assignment(id="hostile-1", exercise="squat", target=5,
                                                 issued_at=time.time(), text=HOSTILE)
                    await asyncio.to_thread(_publish, broker.port, [
                        (f"repfit/{user}/samples/w\nERROR forged line{TITLE}", b"{}"),
                        (f"repfit/{user}/cue", wire.encode(wire.Cue("announce", text=HOSTILE))),
                        (f"repfit/{user}/assignment", wire.encode(assignment)),
                    ])
                    for _ in range(200):  # in order: the assignment comes last
                        if host.active is not None:
                            break
                        await asyncio.sleep(0.05)
                    await host.cancel_active()
                    serving.cancel()
                    await asyncio.gather(serving, return_exceptions=True)
                    observer.close()

    asyncio.run(scenario())
    out, log = _assert_inert(screen.getvalue()), _assert_inert(host_log.getvalue())
    assert out.count(MARKUP) == 2, out  # the cue and the announcement, literally
    assert "dropped a message on repfit/display/samples/w\\nERROR forged line\\x1b]0;pwned" \
        "\\x07" in log
    assert not any(line.startswith("ERROR forged") for line in log.splitlines())
