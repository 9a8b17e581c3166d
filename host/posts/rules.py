"""When to post, per service: pure decisions from a stored result, the streak and the clock.

A service says ``when`` as a set of triggers:

- ``"verified"``: every verified set, whatever its outcome (with ``honour_mode``, reported
  sets too, labelled so);
- ``"missed"``: only sets not completed (missed or partial): the skipped ones show;
- ``"penalties"``: only penalty sets;
- ``"milestones"``: when the streak of days reaches one of ``milestones``;
- ``"daily"``: a summary of the day at ``daily_at`` local time.

Quiet hours never drop a post: one due inside them is sent when they end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from repfit import wire

__all__ = ["MILESTONES", "TRIGGERS", "PostingRule", "QuietHours", "daily_due", "eligible",
           "post_kinds", "send_at"]

#: Ends of a set that are not the user skipping it: a daily cap stopped it, or a newer
#: assignment replaced it.
_NOT_SKIPPED = ("capped", "superseded")
TRIGGERS: tuple[str, ...] = ("verified", "missed", "penalties", "milestones", "daily")
MILESTONES: tuple[int, ...] = (3, 7, 14, 21, 30, 50, 75, 100, 150, 200, 250, 300, 365)


@dataclass(frozen=True)
class QuietHours:
    """Local times between which nothing is sent; ``start > end`` spans midnight."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class PostingRule:
    """One service's triggers, daily summary time and quiet hours."""

    when: frozenset[str] = frozenset({"verified"})
    daily_at: time | None = None
    quiet: QuietHours | None = None
    milestones: tuple[int, ...] = MILESTONES
    #: Post honour-mode (self-reported) sets too; verified ones always qualify.
    honour_mode: bool = False


def eligible(rule: PostingRule, verified: bool) -> bool:
    """Whether a result may be posted at all: verified by the host (or honour-mode allowed).
    The one check that any further condition (such as "signed results only", should results
    ever be stored from elsewhere) joins; today the host refuses unsigned assignments before
    storing anything when a signing key is set."""
    return verified or rule.honour_mode


def post_kinds(rule: PostingRule, result: wire.Result, verified: bool, streak_before: int,
               streak_after: int) -> list[str]:
    """The posts one newly stored result calls for: ``"set"`` (at most one, however many
    triggers match) and ``"milestone"``."""
    if not eligible(rule, verified):
        return []
    kinds = []
    if (("verified" in rule.when and (verified or rule.honour_mode))
            or ("missed" in rule.when and not result.completed
                and result.outcome not in _NOT_SKIPPED)
            or ("penalties" in rule.when and result.reason == "penalty")):
        kinds.append("set")
    if ("milestones" in rule.when and streak_after > streak_before
            and streak_after in rule.milestones):
        kinds.append("milestone")
    return kinds


def send_at(rule: PostingRule, now: float, tz: ZoneInfo) -> float:
    """``now``, or the end of the quiet hours when ``now`` falls inside them."""
    if rule.quiet is None:
        return now
    local = datetime.fromtimestamp(now, tz)
    if not rule.quiet.contains(local.time()):
        return now
    end = datetime.combine(local.date(), rule.quiet.end, tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), rule.quiet.end, tz)
    return end.timestamp()


def daily_due(rule: PostingRule, now: float, tz: ZoneInfo) -> date | None:
    """The day whose summary is due at ``now`` (today once ``daily_at`` has passed), else
    None. The outbox's key per day keeps it from being queued twice."""
    if "daily" not in rule.when or rule.daily_at is None:
        return None
    local = datetime.fromtimestamp(now, tz)
    return local.date() if local.time() >= rule.daily_at else None
