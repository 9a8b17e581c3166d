"""Home Assistant discovery: payloads checked against HA's documented keys, retained topics
on a real Mosquitto, re-announcement on HA's birth message, removal."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from typing import Any

import jinja2
import paho.mqtt.client as mqtt
import pytest

from repfit import wire
from repfit.config import ConfigError, MqttSettings
from repfit.host import homeassistant as ha
from repfit.host.bus import Bus
from repfit.host.liveboard import LiveBoard
from repfit.host.stats import CapUse, ExerciseTotals, Stats

# ---------------------------------------------------------------------------------------
# The configuration variables of the MQTT sensor and binary_sensor platforms, with their
# types, as Home Assistant's documentation lists them (integrations "MQTT Sensor" and
# "MQTT binary sensor"). ``platform`` is documented as only allowed in device-based
# discovery messages, so it must not appear in the per-component configs sent here.

STR, INT, BOOL, LIST, MAP = str, int, bool, list, dict
NULLABLE = type(None)

_COMMON: dict[str, tuple[type, ...]] = {
    "availability": (LIST,), "availability_mode": (STR,), "availability_template": (STR,),
    "availability_topic": (STR,), "device": (MAP,), "device_class": (STR, NULLABLE),
    "enabled_by_default": (BOOL,), "encoding": (STR,), "entity_category": (STR,),
    "entity_picture": (STR,), "expire_after": (INT,), "force_update": (BOOL,), "icon": (STR,),
    "json_attributes_template": (STR,), "json_attributes_topic": (STR,),
    "name": (STR, NULLABLE), "object_id": (STR,), "payload_available": (STR,),
    "payload_not_available": (STR,), "qos": (INT,), "state_topic": (STR,),
    "unique_id": (STR,), "value_template": (STR,),
}
SENSOR_KEYS = {**_COMMON, "last_reset_value_template": (STR,), "options": (LIST,),
               "suggested_display_precision": (INT,), "state_class": (STR,),
               "unit_of_measurement": (STR, NULLABLE)}
BINARY_SENSOR_KEYS = {**_COMMON, "off_delay": (INT,), "payload_off": (STR,),
                      "payload_on": (STR,)}
REQUIRED = {"state_topic"}
AVAILABILITY_KEYS = {"topic": (STR,), "payload_available": (STR,),
                     "payload_not_available": (STR,), "value_template": (STR,)}
DEVICE_KEYS = {"configuration_url": (STR,), "connections": (LIST,), "hw_version": (STR,),
               "identifiers": (STR, LIST), "manufacturer": (STR,), "model": (STR,),
               "model_id": (STR,), "name": (STR,), "serial_number": (STR,),
               "suggested_area": (STR,), "sw_version": (STR,), "via_device": (STR,)}
# Sensor state classes (HA developer docs, "Available state classes").
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# The device classes used here, from the sensor and binary_sensor device class lists, with
# the units HA accepts for them.
SENSOR_DEVICE_CLASSES = {"battery": {"%"}, "duration": {"d", "h", "min", "s", "ms"}}
BINARY_SENSOR_DEVICE_CLASSES = {"connectivity"}
ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
TOPIC_RE = re.compile(r"^homeassistant/(?P<component>sensor|binary_sensor)/"
                      r"(?:(?P<node>[a-zA-Z0-9_-]+)/)?(?P<object>[a-zA-Z0-9_-]+)/config$")


def _typed(where: str, value: Any, types: tuple[type, ...]) -> None:
    ok = any(value is None if t is NULLABLE else
             isinstance(value, t) and not (t is INT and isinstance(value, bool))
             for t in types)
    assert ok, f"{where}: {value!r} is not {' or '.join(t.__name__ for t in types)}"


def check_discovery(topic: str, payload: dict[str, Any]) -> str:
    """Every rule of HA's docs the payload must meet; returns the component."""
    m = TOPIC_RE.match(topic)
    assert m, f"{topic} does not follow <prefix>/<component>/[<node_id>/]<object_id>/config"
    component = m["component"]
    schema = SENSOR_KEYS if component == "sensor" else BINARY_SENSOR_KEYS
    unknown = set(payload) - set(schema)
    assert not unknown, f"{topic}: keys HA does not document for {component}: {unknown}"
    assert set(payload) >= REQUIRED, f"{topic}: missing {REQUIRED - set(payload)}"
    for key, value in payload.items():
        _typed(f"{topic} {key}", value, schema[key])
    assert not ("availability" in payload and "availability_topic" in payload)
    for item in payload.get("availability", []):
        assert set(item) <= set(AVAILABILITY_KEYS) and "topic" in item
        for key, value in item.items():
            _typed(f"{topic} availability.{key}", value, AVAILABILITY_KEYS[key])
    if "device" in payload:
        assert "unique_id" in payload, "device info only works with a unique_id"
        device = payload["device"]
        assert set(device) <= set(DEVICE_KEYS)
        assert device.get("identifiers") or device.get("connections")
        for key, value in device.items():
            _typed(f"{topic} device.{key}", value, DEVICE_KEYS[key])
    assert ID_RE.match(payload["unique_id"])
    if component == "sensor":
        if "state_class" in payload:
            assert payload["state_class"] in STATE_CLASSES
        if "entity_category" in payload:
            assert payload["entity_category"] == "diagnostic"
        if "device_class" in payload:
            units = SENSOR_DEVICE_CLASSES[payload["device_class"]]
            assert payload.get("unit_of_measurement") in units
        assert "last_reset_value_template" not in payload or payload["state_class"] == "total"
    else:
        assert payload.get("device_class") in BINARY_SENSOR_DEVICE_CLASSES
        assert payload.get("entity_category", "diagnostic") in ("diagnostic", "config")
    return component


def render(template: str, payload: str | bytes) -> str:
    """A value_template evaluated as HA does: Jinja with ``value`` and ``value_json``."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    return jinja2.Environment().from_string(template).render(
        value=text, value_json=json.loads(text)).strip()


# ---------------------------------------------------------------------------------------


def _stats(user: str) -> Stats:
    from datetime import date
    return Stats(user, "UTC", date(2026, 1, 5), date(2026, 1, 5),
                 (ExerciseTotals("squat", "squats", 2, 2, 20),
                  ExerciseTotals("plank", "plank", 1, 1, 0, 45.0)), (), 3, 4, ())


def test_every_discovery_payload_follows_the_documented_keys_and_types() -> None:
    configs = ha.discovery_configs("ada", "repfit/ada/status/repfit-host-1",
                                   caps={"pushup": "push-ups", "penalty_squat": "squats"})
    components = [check_discovery(t, p) for t, p in configs]
    assert components.count("binary_sensor") == 1
    topics = [t for t, _ in configs]
    assert len(set(topics)) == len(topics)
    assert len({p["unique_id"] for _, p in configs}) == len(configs)
    # one device for all of them
    assert len({json.dumps(p["device"], sort_keys=True) for _, p in configs}) == 1
    reps = [p for t, p in configs if "reps_today_" in t]
    assert reps and all(p["state_class"] == "total_increasing" for p in reps)
    assert {t.split("/")[2] for t, _ in configs if "cap_remaining" in t} == {
        "repfit_ada_cap_remaining_pushup", "repfit_ada_cap_remaining_penalty_squat"}


def test_no_cap_entities_without_caps() -> None:
    assert not [t for t, _ in ha.discovery_configs("ada", "x") if "cap_remaining" in t]


def test_every_value_template_reads_the_state_topic() -> None:
    board = LiveBoard("ada", clock=lambda: 1000.0)
    board.set_today(_stats("ada"))
    board.set_caps([CapUse("reps_per_day", "main", "pushup", "push-ups", 35, 50),
                    CapUse("assignments_per_day", "penalty", None, "assignments", 2, 3)])
    board.progress(wire.Progress("a1", "pushup", reps=3, target=10))
    board.samples(wire.SampleBatch("band", t=[0.0, 0.02], acc=[[0, 0, 1], [0, 0, 1]]), 76)
    state = json.dumps(ha.state_of(board.snapshot()))
    values = {p["unique_id"]: render(p["value_template"], state)
              for _, p in ha.discovery_configs("ada", "x", caps={
                  "pushup": "push-ups", "penalty_assignments_per_day": "assignments"})}
    assert values["repfit_ada_reps_today_squat"] == "20"
    assert values["repfit_ada_reps_today_pushup"] == "0"
    assert values["repfit_ada_held_today_plank"] == "45.0"
    assert values["repfit_ada_assignment"] == "push-ups 10 reps"
    assert values["repfit_ada_progress"] == "30"
    assert values["repfit_ada_streak"] == "3"
    assert values["repfit_ada_cap_remaining_pushup"] == "15"
    assert values["repfit_ada_cap_remaining_penalty_assignments_per_day"] == "1"
    assert values["repfit_ada_wearable_battery"] == "76"
    assert values["repfit_ada_wearable_connected"] == "ON"
    # A wearable without a battery service: unknown to HA, not "None".
    fresh = LiveBoard("ada")
    fresh.samples(wire.SampleBatch("phone", t=[0.0], acc=[[0, 0, 1]]))
    state = json.dumps(ha.state_of(fresh.snapshot()))
    battery = next(p for _, p in ha.discovery_configs("ada", "x")
                   if p["unique_id"] == "repfit_ada_wearable_battery")
    assert render(battery["value_template"], state) == "null"


def test_availability_maps_the_hosts_last_will() -> None:
    (_, payload), *_ = ha.discovery_configs("ada", "repfit/ada/status/h")
    template = payload["availability"][0]["value_template"]
    for online, expected in ((True, "online"), (False, "offline")):
        status = wire.encode(wire.Status("host", online, "h"))
        assert render(template, status) == expected


@pytest.mark.parametrize("table, key", [
    ({"homeassistant": {"enabled": "yes"}}, "homeassistant.enabled"),
    ({"homeassistant": {"discovery_prefix": "ha/#"}}, "homeassistant.discovery_prefix"),
    ({"homeassistant": {"enable": True}}, "homeassistant.enable"),
    ({"homeassistant": True}, "homeassistant"),
])
def test_a_wrong_table_names_its_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        ha.settings_from(table)
    assert err.value.key == key


# --------------------------------------------------------------------- on a real broker


def retained(settings: MqttSettings, *filters: str) -> dict[str, bytes]:
    """The retained messages under ``filters`` right now: a fresh client subscribes, then
    publishes a marker to itself; the broker sends the retained messages first."""
    marker = f"repfit-test/marker/{uuid.uuid4().hex}"
    got: dict[str, bytes] = {}
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == marker:
            done.set()
        elif msg.retain and msg.payload:
            got[msg.topic] = bytes(msg.payload)

    def on_subscribe(client: mqtt.Client, *args: Any) -> None:
        client.publish(marker, b"x", qos=1)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = lambda c, *a: c.subscribe([(f, 1) for f in (*filters, marker)])
    client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        assert done.wait(10), "the broker never echoed the marker"
    finally:
        client.disconnect()
        client.loop_stop()
    return got


def publish(settings: MqttSettings, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(settings.host, settings.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


def test_retained_configs_and_state_on_mosquitto_reannounce_and_remove(
        mosquitto: MqttSettings, user: str) -> None:
    prefix = f"ha-{user}"   # a prefix of this test's own on the shared broker
    settings = ha.HomeAssistantSettings(enabled=True, discovery_prefix=prefix)
    filters = (f"{prefix}/#", ha.state_topic(user))

    async def scenario() -> None:
        board = LiveBoard(user)
        async with Bus(mosquitto, user=user) as bus:
            bus.announce()
            bridge = ha.HomeAssistantBridge(bus, board, settings)
            await bridge.start()
            board.set_today(_stats(user))
            board.progress(wire.Progress("a1", "squat", reps=4, target=8))
            await bus.flush()
            seen = await asyncio.to_thread(retained, mosquitto, *filters)
            configs = {t: json.loads(p) for t, p in seen.items() if t.startswith(prefix)}
            expected = {t.replace("homeassistant/", f"{prefix}/", 1) for t, _ in
                        ha.discovery_configs(user, bus.status_topic)}
            assert set(configs) == expected
            for topic, payload in configs.items():
                check_discovery(topic.replace(f"{prefix}/", "homeassistant/", 1), payload)
                assert payload["availability"][0]["topic"] == bus.status_topic
            state = seen[ha.state_topic(user)]
            assert json.loads(state)["progress_percent"] == 50
            assert json.loads(state)["reps_today"]["squat"] == 20
            # The host is online per its retained status, as HA's template reads it.
            status = await asyncio.to_thread(retained, mosquitto, bus.status_topic)
            template = next(iter(configs.values()))["availability"][0]["value_template"]
            assert render(template, status[bus.status_topic]) == "online"

            # Caps configured: their entity appears; no caps: it goes away.
            cap = f"{prefix}/sensor/repfit_{user}_cap_remaining_pushup/config"
            board.set_caps([CapUse("reps_per_day", "main", "pushup", "push-ups", 10, 50)])
            await bus.flush()
            assert cap in await asyncio.to_thread(retained, mosquitto, *filters)
            board.set_caps([])
            await bus.flush()
            assert cap not in await asyncio.to_thread(retained, mosquitto, *filters)

            # HA restarts and lost an entity: its birth message brings every config back.
            lost = sorted(configs)[0]
            await asyncio.to_thread(publish, mosquitto, lost, b"", True)
            assert lost not in await asyncio.to_thread(retained, mosquitto, *filters)
            before = bridge.announcements
            await asyncio.to_thread(publish, mosquitto, f"{prefix}/status", b"offline")
            await asyncio.to_thread(publish, mosquitto, f"{prefix}/status", b"online")
            await _until(lambda: bridge.announcements == before + 1, "a re-announcement")
            await bus.flush()
            assert lost in await asyncio.to_thread(retained, mosquitto, *filters)
            bridge.stop()
        status = await asyncio.to_thread(retained, mosquitto, bus.status_topic)
        assert render(template, status[bus.status_topic]) == "offline"

        # repfit homeassistant --remove: nothing of the user's is left retained.
        async with Bus(mosquitto, user=user) as bus:
            n = await ha.remove(bus, prefix=prefix)
        assert n == len(ha.removal_topics(user)) + 1
        assert await asyncio.to_thread(retained, mosquitto, *filters) == {}

    asyncio.run(scenario())


def test_the_remove_command_clears_every_retained_topic(mosquitto: MqttSettings,
                                                        user: str, tmp_path: Any,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from repfit.host.cli import main

    for topic, payload in ha.discovery_configs(user, "x")[:3]:
        publish(mosquitto, topic, json.dumps(payload).encode(), retain=True)
    publish(mosquitto, ha.state_topic(user), b"{}", retain=True)
    before = {t for t in retained(mosquitto, "homeassistant/#", ha.state_topic(user))
              if user in t}
    assert len(before) == 4
    config = tmp_path / "config.toml"
    config.write_text(f'user = "{user}"\n')
    assert main(["--config", str(config), "homeassistant", "--remove",
                 "--broker", mosquitto.url]) == 0
    assert "cleared" in capsys.readouterr().out
    after = {t for t in retained(mosquitto, "homeassistant/#", ha.state_topic(user))
             if user in t}
    assert after == set()


def test_a_standby_host_stays_silent_until_it_verifies(mosquitto: MqttSettings,
                                                       user: str) -> None:
    prefix = f"ha-{user}"
    verifying = False

    async def scenario() -> None:
        board = LiveBoard(user)
        async with Bus(mosquitto, user=user) as bus:
            bridge = ha.HomeAssistantBridge(
                bus, board, ha.HomeAssistantSettings(True, prefix), verifying=lambda: verifying)
            await bridge.start()
            board.progress(wire.Progress("a1", "squat", reps=2, target=8))
            await asyncio.to_thread(publish, mosquitto, f"{prefix}/status", b"online")
            await _until(lambda: bridge.births == 1, "HA's birth message")
            await bus.flush()
            assert bridge.announcements == 0
            assert await asyncio.to_thread(retained, mosquitto, f"{prefix}/#",
                                           ha.state_topic(user)) == {}
            # The verifying host went away: this one takes over and speaks for the user.
            nonlocal verifying
            verifying = True
            board.progress(wire.Progress("a1", "squat", reps=3, target=8))
            await bus.flush()
            assert bridge.announcements == 1
            seen = await asyncio.to_thread(retained, mosquitto, f"{prefix}/#",
                                           ha.state_topic(user))
            assert json.loads(seen[ha.state_topic(user)])["progress_percent"] == 38
            assert len(seen) == len(ha.discovery_configs(user, "x")) + 1
            await ha.remove(bus, prefix=prefix)

    asyncio.run(scenario())
