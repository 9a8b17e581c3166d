"""The connection layer's pure parts: refusal texts, redaction, stable client ids."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from repfit.config import MqttSettings, Secret
from repfit.mqtt_link import LinkError, MqttLink, redact, refusal_text, stable_client_id


@pytest.mark.parametrize(("code", "words"), [
    (4, "bad user name or password"), (134, "bad user name or password"),
    (5, "not authorised"), (135, "not authorised"), (2, "client id"), (138, "banned"),
])
def test_refusals_read_as_sentences(code: int, words: str) -> None:
    assert words in refusal_text(code)
    assert refusal_text(999).startswith("refused")


def test_redact_removes_every_form_of_the_password() -> None:
    pw = "p/a s@:%"
    settings = MqttSettings(password=Secret(pw))
    text = f"a {pw} b {quote(pw, safe='')} c {quote(pw)} d"
    assert redact(text, settings) == "a *** b *** c *** d"
    assert redact("nothing", MqttSettings()) == "nothing"


def test_stable_client_id_is_stable_and_valid() -> None:
    assert stable_client_id("host", "ada", "my laptop.local") == \
        "repfit-host-ada-my-laptop-local"
    assert stable_client_id("host", "ada") == stable_client_id("host", "ada")


def test_a_missing_ca_file_is_a_link_error_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = MqttSettings(tls=True, ca_file=tmp_path / "nope.pem", password=Secret("pw"))
    with pytest.raises(LinkError, match="cannot set up TLS"):
        MqttLink(settings, client_id="x")
