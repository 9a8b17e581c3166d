"""Leadership: the host online longest verifies; the others stand by."""

from __future__ import annotations

from repfit import wire
from repfit.host.leadership import Leadership


def status(online: bool, at: float, role: str = "host") -> wire.Status:
    return wire.Status(role=role, online=online, at=at)  # type: ignore[arg-type]


def test_the_earliest_online_host_verifies_and_a_newcomer_waits() -> None:
    me = Leadership("b", since=20.0)
    assert me.active
    assert me.seen("a", status(True, 10.0)) and not me.active and me.leader == "a"
    assert not me.seen("t", status(True, 1.0, role="trainer"))     # only hosts count
    assert me.seen("a", status(False, 30.0)) and me.active          # its Last Will


def test_ties_go_to_the_smaller_client_id_on_both_sides() -> None:
    a, b = Leadership("a", since=5.0), Leadership("b", since=5.0)
    a.seen("b", status(True, 5.0))
    b.seen("a", status(True, 5.0))
    assert a.active and not b.active


def test_our_own_last_will_makes_us_announce_again_as_the_newest() -> None:
    me = Leadership("a", since=5.0)
    me.seen("b", status(True, 8.0))
    assert me.active
    me.seen("a", status(False, 9.0))              # the broker lost us; b took over
    assert me.must_reannounce
    me.reannounced(12.0)
    assert not me.must_reannounce and not me.active and me.leader == "b"


def test_invented_hosts_are_bounded() -> None:
    me = Leadership("me", since=0.0)
    for i in range(1000):
        me.seen(f"h{i}", status(True, 100.0 + i))
    assert len(me.others) == Leadership.max_hosts and me.active
