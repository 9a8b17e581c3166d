"""The one place repfit configures an MQTT connection (paho-mqtt 2.x).

The host's bus, the training side's publisher and the phone source each need a paho client
with the same things done the same way: credentials, TLS (a CA file, a client certificate),
websockets, a Last Will, reconnect back-off, a persistent session where messages must not be
missed, readable refusal reasons, and no secret in any text that leaves this module. They
get it from `MqttLink`; what they do with the connection (callbacks, subscriptions) is theirs.

A later signature on messages changes payloads, not connections, so it belongs in
`repfit.wire`, not here.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from repfit.config import MqttSettings

__all__ = ["LinkError", "MqttLink", "Will", "redact", "refusal_text", "stable_client_id"]

log = logging.getLogger(__name__)

#: CONNACK codes, MQTT 3.1.1 (1-5) and the MQTT 5 reason codes paho maps them to (128+).
_LOGIN_HINT = ("check REPFIT_MQTT_USERNAME / REPFIT_MQTT_PASSWORD, [mqtt] in the config file, "
               "or the URL")
_REFUSALS = {
    1: "the broker does not speak MQTT 3.1.1",
    2: "the broker rejected the client id",
    3: "the broker is unavailable",
    4: f"bad user name or password ({_LOGIN_HINT})",
    5: f"not authorised: no login, a wrong one, or a user who may not connect ({_LOGIN_HINT})",
    128: "unspecified error",
    129: "malformed packet",
    130: "protocol error",
    131: "refused by the broker's policy",
    132: "the broker does not speak this MQTT version",
    133: "the broker rejected the client id",
    134: f"bad user name or password ({_LOGIN_HINT})",
    135: f"not authorised: no login, a wrong one, or a user who may not connect ({_LOGIN_HINT})",
    136: "the broker is unavailable",
    137: "the broker is busy",
    138: "banned by the broker",
    140: "the broker wants another authentication method",
    149: "a packet was too large for the broker",
    151: "the broker's quota is exceeded",
    156: "the broker says: use another server",
    157: "the broker has moved",
    159: "connecting too often (the broker's rate limit)",
}


class LinkError(ConnectionError):
    """The broker cannot be reached, or refused us; the text says why and holds no secret."""


@dataclass(frozen=True)
class Will:
    """The Last Will: what the broker publishes for us when we vanish without a goodbye."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def refusal_text(reason: Any) -> str:
    """A readable sentence for a CONNACK refusal (paho ``ReasonCode`` or a bare number)."""
    code = getattr(reason, "value", reason)
    if isinstance(code, int) and code in _REFUSALS:
        return _REFUSALS[code]
    return f"refused ({reason})"


def redact(text: str, settings: MqttSettings) -> str:
    """``text`` with every secret of ``settings`` replaced by ``***`` (also URL-encoded forms)."""
    for secret in settings.secrets():
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret), repr(secret)[1:-1]}:
            if form:
                text = text.replace(form, "***")
    return text


def stable_client_id(role: str, user: str, node: str | None = None) -> str:
    """The same client id on every start for this (role, user, machine): a persistent session
    on the broker is found again only under the same id."""
    name = node if node is not None else socket.gethostname()
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", name)[:40] or "host"
    return f"repfit-{role}-{user}-{safe}"


class MqttLink:
    """A paho client configured from `MqttSettings`, and the last reason it could not connect.

    Parameters
    ----------
    settings : MqttSettings
        Address, credentials and TLS files.
    client_id : str
        The MQTT client id (`stable_client_id` for a persistent session).
    persistent : bool
        Keep the session on the broker between connections (MQTT 3.1.1 ``clean_session``
        off): subscriptions stay, and QoS 1 messages published while we are away are queued
        for us. Needs a stable ``client_id``.
    will : Will, optional
        The Last Will.
    reconnect_s : (float, float)
        Reconnect back-off bounds in seconds.

    Notes
    -----
    Callers set their callbacks on `client` before `start`; `on_connect_fail` is taken by
    the link itself to keep `last_error` and is forwarded to ``on_connect_fail``.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        persistent: bool = False,
        will: Will | None = None,
        reconnect_s: tuple[float, float] = (1, 30),
        keepalive: int = 30,
        on_connect_fail: Callable[[], object] | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.keepalive = keepalive
        self.last_error: str | None = None
        #: Whether the last failure will repeat on every retry (the broker's certificate is
        #: not trusted, the TLS handshake is refused): waiting longer is pointless.
        self.hopeless = False
        self._on_connect_fail = on_connect_fail
        transport: Literal["websockets", "tcp"] = "websockets" if settings.websocket else "tcp"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=not persistent, protocol=mqtt.MQTTv311,
                             transport=transport)
        if settings.websocket:
            client.ws_set_options(path=settings.ws_path)
        if settings.username is not None or settings.password is not None:
            client.username_pw_set(settings.username or "",
                                   settings.password.reveal() if settings.password else None)
        if settings.tls:
            try:
                client.tls_set(
                    ca_certs=str(settings.ca_file) if settings.ca_file else None,
                    certfile=str(settings.cert_file) if settings.cert_file else None,
                    keyfile=str(settings.key_file) if settings.key_file else None,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise LinkError(self._why(f"cannot set up TLS for {settings.url}", exc)) from None
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.reconnect_delay_set(min_delay=int(reconnect_s[0]) or 1,
                                   max_delay=int(reconnect_s[1]) or 1)
        # paho swallows the reason of a failed (re)connect; keep it for the error message.
        plain_reconnect = client.reconnect

        def reconnect() -> mqtt.MQTTErrorCode:
            try:
                return plain_reconnect()
            except OSError as exc:
                self.last_error = self._describe(exc)
                self.hopeless = isinstance(exc, ssl.SSLError)
                raise

        client.reconnect = reconnect  # type: ignore[method-assign]
        client.on_connect_fail = self._connect_failed
        self.client = client

    @property
    def url(self) -> str:
        """The broker URL without credentials."""
        return self.settings.url

    def start(self) -> None:
        """Connect in the background (paho's thread) and keep reconnecting.

        Raises
        ------
        LinkError
            When the address cannot even be tried (e.g. an invalid host name).
        """
        try:
            self.client.connect_async(self.settings.host, self.settings.port,
                                      keepalive=self.keepalive)
        except (OSError, ValueError) as exc:
            raise LinkError(self._why(f"cannot reach the MQTT broker at {self.url}", exc)) \
                from None
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and end paho's thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def refused(self, reason: Any) -> LinkError:
        """The error for a CONNACK refusal, naming the broker and the reason."""
        return LinkError(f"the MQTT broker at {self.url} refused the connection: "
                         f"{refusal_text(reason)}")

    def unreachable(self, timeout_s: float | None = None) -> LinkError:
        """The error for no connection (within ``timeout_s``), with paho's last reason."""
        why = self.last_error or "no answer"
        within = f" within {timeout_s:g} s" if timeout_s is not None else ""
        return LinkError(f"could not connect to the MQTT broker at {self.url}{within} ({why})")

    def closed_before_answer(self) -> None:
        """Note that the broker dropped a connection before its CONNACK (callers' on_disconnect
        call this): with TLS and no client certificate, the likely reason is a listener that
        requires one, and retrying will not change that."""
        if self.settings.tls and self.settings.cert_file is None:
            self.last_error = ("the broker closed the TLS connection before answering; if it "
                               "requires a client certificate, set mqtt.cert_file and "
                               "mqtt.key_file (REPFIT_MQTT_CERT_FILE, REPFIT_MQTT_KEY_FILE)")
            self.hopeless = True
        else:
            self.last_error = "the broker closed the connection before answering"

    def _connect_failed(self, client: mqtt.Client, userdata: object) -> None:
        if self._on_connect_fail is not None:
            self._on_connect_fail()

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, ssl.SSLCertVerificationError):
            text = f"TLS: the broker's certificate is not trusted ({exc.verify_message}); " \
                   "set mqtt.ca_file / REPFIT_MQTT_CA_FILE to the CA that signed it"
        elif isinstance(exc, ssl.SSLError):
            text = f"TLS: {exc.reason or exc}"
        else:
            text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return redact(text, self.settings)

    def _why(self, what: str, exc: BaseException) -> str:
        return f"{what}: {self._describe(exc)}"
