"""Home Assistant MQTT discovery: the user's reps, streak and wearable as HA entities.

With ``[homeassistant] enabled = true`` the host announces one HA device per repfit user,
``repfit <user>``, whose entities read one retained JSON state topic that the host keeps up
to date from the `LiveBoard`:

- ``sensor`` reps today per rep exercise (``state_class: total_increasing``, back to 0 at
  midnight, which HA reads as a new cycle) and seconds held today per hold;
- ``sensor`` the current assignment, its progress in percent, the streak in days;
- ``sensor`` caps remaining per exercise, only while caps are configured;
- ``sensor`` the wearable's battery and ``binary_sensor`` its connectivity (diagnostic).

Availability is the host's own Last Will: the retained ``repfit/<user>/status/<client>``
JSON, mapped to ``online``/``offline`` by a template. Discovery configs are retained; they
are sent again whenever Home Assistant announces ``online`` on ``<prefix>/status`` (its
birth message), and `removal_topics` lists what ``repfit homeassistant --remove`` empties.

Topics follow ``<discovery_prefix>/<component>/<object_id>/config`` with object ids made of
``[a-zA-Z0-9_-]`` (repfit user names already are).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from repfit import __version__
from repfit.config import ConfigError
from repfit.exercises import VOCABULARY
from repfit.host.bus import Bus
from repfit.host.liveboard import LiveBoard

__all__ = [
    "HomeAssistantBridge",
    "HomeAssistantSettings",
    "discovery_configs",
    "removal_topics",
    "remove",
    "settings_from",
    "state_of",
    "state_topic",
]

log = logging.getLogger(__name__)

_REP_EXERCISES = tuple(e for e in VOCABULARY if e.measure == "reps")
_HOLD_EXERCISES = tuple(e for e in VOCABULARY if e.measure == "hold")


@dataclass(frozen=True)
class HomeAssistantSettings:
    """The ``[homeassistant]`` table."""

    enabled: bool = False
    #: Home Assistant's discovery prefix (its MQTT integration's setting).
    discovery_prefix: str = "homeassistant"


def settings_from(tables: Mapping[str, Any], source: str = "") -> HomeAssistantSettings:
    """Read ``[homeassistant]`` from the config's raw tables.

    Raises
    ------
    ConfigError
        Naming the key when a value has the wrong type.
    """
    raw = tables.get("homeassistant", {})
    if not isinstance(raw, dict):
        raise ConfigError("homeassistant", raw, "a table [homeassistant]", source)
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("homeassistant.enabled", enabled, "true or false", source)
    prefix = raw.get("discovery_prefix", "homeassistant")
    if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "+#") \
            or prefix.startswith("/") or prefix.endswith("/"):
        raise ConfigError("homeassistant.discovery_prefix", prefix,
                          "an MQTT topic without wildcards, e.g. homeassistant", source)
    unknown = set(raw) - {"enabled", "discovery_prefix"}
    if unknown:
        raise ConfigError("homeassistant." + sorted(unknown)[0], raw[sorted(unknown)[0]],
                          "one of the keys enabled, discovery_prefix", source)
    return HomeAssistantSettings(enabled=enabled, discovery_prefix=prefix)


def state_topic(user: str) -> str:
    """The retained JSON every entity of ``user`` reads its value from."""
    return f"repfit-ha/{user}/state"


def _object_id(user: str, key: str) -> str:
    return f"repfit_{user}_{key}"


def _entities(user: str, caps: Mapping[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(component, key, the entity's own keys) for each entity of ``user``."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for e in _REP_EXERCISES:
        out.append(("sensor", f"reps_today_{e.name}", {
            "name": f"{e.display.capitalize()} today", "icon": "mdi:dumbbell",
            "unit_of_measurement": "reps", "state_class": "total_increasing",
            "value_template": f"{{{{ value_json.reps_today.{e.name} }}}}"}))
    for e in _HOLD_EXERCISES:
        out.append(("sensor", f"held_today_{e.name}", {
            "name": f"{e.display.capitalize()} today", "icon": "mdi:timer-outline",
            "device_class": "duration", "unit_of_measurement": "s",
            "state_class": "total_increasing",
            "value_template": f"{{{{ value_json.held_today.{e.name} }}}}"}))
    out += [
        ("sensor", "assignment", {
            "name": "Current assignment", "icon": "mdi:clipboard-text",
            "value_template": "{{ value_json.assignment }}"}),
        ("sensor", "progress", {
            "name": "Assignment progress", "icon": "mdi:progress-check",
            "unit_of_measurement": "%", "state_class": "measurement",
            "value_template": "{{ value_json.progress_percent }}"}),
        ("sensor", "streak", {
            "name": "Streak", "icon": "mdi:fire", "unit_of_measurement": "d",
            "device_class": "duration", "state_class": "measurement",
            "value_template": "{{ value_json.streak_days }}"}),
        ("sensor", "wearable_battery", {
            "name": "Wearable battery", "device_class": "battery",
            "unit_of_measurement": "%", "state_class": "measurement",
            "entity_category": "diagnostic",
            # HA reads "null" as unknown (a device without a battery service).
            "value_template": "{{ value_json.wearable_battery"
                              " if value_json.wearable_battery is not none else 'null' }}"}),
        ("binary_sensor", "wearable_connected", {
            "name": "Wearable connected", "device_class": "connectivity",
            "entity_category": "diagnostic", "payload_on": "ON", "payload_off": "OFF",
            "value_template": "{{ 'ON' if value_json.wearable_connected else 'OFF' }}"}),
    ]
    for key, label in caps.items():
        out.append(("sensor", f"cap_remaining_{key}", {
            "name": f"Cap remaining: {label}", "icon": "mdi:gauge",
            "state_class": "measurement",
            "value_template": f"{{{{ value_json.caps_remaining['{key}'] }}}}"}))
    return out


def discovery_configs(user: str, availability_topic: str, *, prefix: str = "homeassistant",
                      caps: Mapping[str, str] | None = None
                      ) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) of every entity of ``user``, grouped under one device.

    ``availability_topic`` is the host's retained status topic (`Bus.status_topic`);
    ``caps`` the daily caps (`repfit.host.liveboard.cap_key` -> label; no cap entities
    without caps).
    """
    device = {"identifiers": [f"repfit_{user}"], "name": f"repfit {user}",
              "manufacturer": "repfit", "model": "repfit host", "sw_version": __version__}
    availability = [{"topic": availability_topic,
                     "value_template": "{{ 'online' if value_json.online else 'offline' }}"}]
    configs = []
    for component, key, own in _entities(user, caps or {}):
        object_id = _object_id(user, key)
        payload = {**own, "unique_id": object_id, "object_id": object_id,
                   "state_topic": state_topic(user), "availability": availability,
                   "device": device}
        configs.append((f"{prefix}/{component}/{object_id}/config", payload))
    return configs


def removal_topics(user: str, *, prefix: str = "homeassistant") -> list[str]:
    """Every config topic repfit may have announced for ``user`` (caps on every exercise
    included): an empty retained payload on each removes the entities."""
    names = [e.name for e in VOCABULARY] + ["assignments_per_day", "hold_seconds_per_day"]
    every_cap = {key: key for name in names for key in (name, f"penalty_{name}")}
    return [topic for topic, _ in discovery_configs(user, "-", prefix=prefix, caps=every_cap)]


def state_of(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The state topic's JSON from a `LiveBoard` snapshot."""
    reps = {e.name: 0 for e in _REP_EXERCISES}
    held = {e.name: 0.0 for e in _HOLD_EXERCISES}
    for t in snapshot["today"]["by_exercise"]:
        if t["exercise"] in reps:
            reps[t["exercise"]] = t["reps"]
        if t["exercise"] in held:
            held[t["exercise"]] = t["hold_seconds"]
    current = snapshot["current"]
    if current is None:
        assignment, percent = "none", 0
    else:
        amount = f"{current['target']:g} {'reps' if current['unit'] == 'reps' else 's'}"
        assignment = f"{current['name']} {amount}"[:255]
        percent = round(100 * current["fraction"])
    wearable = snapshot["wearable"] or {}
    return {"reps_today": reps, "held_today": held, "assignment": assignment,
            "progress_percent": percent, "streak_days": snapshot["today"]["streak_days"],
            "caps_remaining": snapshot["caps_remaining"] or {},
            "wearable_battery": wearable.get("battery_percent"),
            "wearable_connected": bool(wearable.get("connected", False))}


class HomeAssistantBridge:
    """Keeps the discovery configs and the state topic of one user on the broker.

    Call `start` once the host's bus is connected; it announces, follows Home Assistant's
    birth message, and republishes the state whenever the board changes what HA shows.
    """

    def __init__(self, bus: Bus, board: LiveBoard, settings: HomeAssistantSettings, *,
                 verifying: Callable[[], bool] = lambda: True) -> None:
        self.bus = bus
        self.board = board
        self.settings = settings
        #: Whether this host verifies the user's workouts now. Of several hosts of one
        #: user only that one speaks for the user (its status is the entities'
        #: availability); a standby that takes over announces itself.
        self.verifying = verifying
        self._speaking = False
        self.announcements = 0
        #: Home Assistant birth messages (``online`` on ``<prefix>/status``) seen.
        self.births = 0
        self._announced_caps: list[str] = []
        self._last_state: bytes | None = None
        self._stop_listening: Callable[[], None] | None = None

    @property
    def status_topic(self) -> str:
        return f"{self.settings.discovery_prefix}/status"

    async def start(self) -> None:
        self._stop_listening = self.board.listen(self._on_board)
        if self.verifying():
            self.announce()
        await self.bus.watch(self.status_topic, self._on_ha_status)

    def stop(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def announce(self) -> None:
        """Publish every discovery config (retained), then the current state."""
        caps = {key: c["label"] for key, c in (self.board.snapshot()["caps"] or {}).items()}
        gone = {key: key for key in self._announced_caps if key not in caps}
        for topic, _ in discovery_configs(self.bus.user, "-", caps=gone,
                                          prefix=self.settings.discovery_prefix):
            if "_cap_remaining_" in topic:
                self.bus.publish_raw(topic, b"", qos=1, retain=True)  # no cap, no entity
        self._announced_caps = sorted(caps)
        for topic, payload in discovery_configs(
                self.bus.user, self.bus.status_topic, prefix=self.settings.discovery_prefix,
                caps=caps):
            self.bus.publish_raw(topic, json.dumps(payload).encode(), qos=1, retain=True)
        self.announcements += 1
        self._speaking = True
        self._last_state = None
        self._publish_state(self.board.snapshot())
        log.info("announced %s's entities to Home Assistant", self.bus.user)

    def _on_ha_status(self, payload: bytes) -> None:
        self.births += payload.strip() == b"online"
        if payload.strip() == b"online" and self.verifying():
            self.announce()

    def _on_board(self, why: str, snapshot: dict[str, Any]) -> None:
        if not self.verifying():
            self._speaking = False      # standing by: the verifying host speaks
            return
        if not self._speaking:
            self.announce()             # took over from another host, or started as standby
            return
        if why == "caps" and sorted(snapshot["caps_remaining"] or {}) != sorted(
                json.loads(self._last_state or b"{}").get("caps_remaining", {})):
            self.announce()  # a cap appeared or went away: its entity follows
            return
        self._publish_state(snapshot)

    def _publish_state(self, snapshot: Mapping[str, Any]) -> None:
        data = json.dumps(state_of(snapshot), sort_keys=True).encode()
        if data != self._last_state:  # wearable rate updates change nothing HA shows
            self._last_state = data
            self.bus.publish_raw(state_topic(self.bus.user), data, qos=1, retain=True)


async def remove(bus: Bus, *, prefix: str = "homeassistant") -> int:
    """Empty every retained config and the state topic of ``bus.user``; returns how many
    topics were cleared (the bus flushes them on exit)."""
    topics = [*removal_topics(bus.user, prefix=prefix), state_topic(bus.user)]
    for topic in topics:
        bus.publish_raw(topic, b"", qos=1, retain=True)
    return len(topics)
