"""Which of a user's hosts verifies: the one that has been online longest.

Every host already publishes a retained ``status`` (online once subscribed, offline as its
MQTT Last Will). That is the claim: of the hosts whose retained status says online, the one
with the earliest ``at`` (ties: the smaller client id) verifies every assignment; the others
stand by, keep the assignments, and take over when its status turns offline. A newcomer never
displaces a working host, because its own ``at`` is later. No new topic is needed, the Last
Will ends a dead host's claim without anyone's help, and every host decides from the same
retained messages, so they agree. (MQTT 5 shared subscriptions would hand each assignment to
one host, but the broker sends no retained message to a shared subscription and does not
re-send an assignment whose host died mid-set.)

Pure: fed with decoded statuses, it answers `active`.
"""

from __future__ import annotations

from repfit import wire

__all__ = ["Leadership"]


class Leadership:
    """The claim state of one host.

    Parameters
    ----------
    me : str
        This host's client id.
    since : float
        This host's own status time; replaced by the value the broker echoes back.
    """

    #: Other hosts remembered at most (status topics can be written by anyone on the broker;
    #: past this many, new names are not remembered).
    max_hosts = 16

    def __init__(self, me: str, since: float) -> None:
        self.me = me
        self.since = since
        self._online: dict[str, float] = {}
        #: Set when the broker holds our own status as offline (our Last Will fired while we
        #: were cut off): we must announce ourselves again, as the newest host.
        self.must_reannounce = False

    def seen(self, client_id: str, status: wire.Status) -> bool:
        """Take a host status into account; True when `active` may have changed."""
        if status.role != "host":
            return False
        before = self.active
        if client_id == self.me:
            if status.online:
                self.since = status.at
                self.must_reannounce = False
            else:
                self.must_reannounce = True
        elif status.online:
            if client_id in self._online or len(self._online) < self.max_hosts:
                self._online[client_id] = status.at
        else:
            self._online.pop(client_id, None)
        return self.active != before

    def reannounced(self, at: float) -> None:
        self.since = at
        self.must_reannounce = False

    @property
    def leader(self) -> str:
        """The client id of the host that verifies."""
        candidates = {**self._online, self.me: self.since}
        return min(candidates, key=lambda c: (candidates[c], c))

    @property
    def active(self) -> bool:
        return self.leader == self.me

    @property
    def others(self) -> list[str]:
        return sorted(self._online)
