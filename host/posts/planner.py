"""Which posts a stored result queues, rendered for each service: the host calls `plan` with
the result it is about to store and hands the posts to `Store.add_result`, so both are
written in one transaction; `daily` queues the day's summaries.

Facts come from the store (the result joined to the records already there), never from a
message on the wire alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from repfit import wire
from repfit.host import stats
from repfit.host.posts import facts as post_facts
from repfit.host.posts import rules
from repfit.host.posts.length import LengthRule
from repfit.host.posts.settings import PostSettings, ServiceSettings
from repfit.host.posts.template import PostFacts
from repfit.host.setsamples import SetSamples
from repfit.host.store import PostPicture, QueuedPost, Store

__all__ = ["WINDOW_DAYS", "PostPlanner", "picture_alt", "post_key", "wants_picture"]

#: How far back a post's facts read by default (longer than the longest default milestone).
WINDOW_DAYS = 400

log = logging.getLogger(__name__)


def post_key(service: str, user: str, kind: str, subject: str) -> str:
    """The idempotency key of one post: the same facts never queue a second post."""
    return f"{service}:{user}:{kind}:{subject}"


def wants_picture(service: ServiceSettings) -> bool:
    """``picture = true`` in the service's table (off by default)."""
    return service.options.get("picture") is True


def picture_alt(facts: PostFacts, unit: str) -> str:
    """The alt text of a set's picture: what the set was and what the plot shows."""
    marks = (", each counted rep marked by a green line" if unit == "reps" else "")
    return (f"Plot of a set of {facts.exercise}: {facts.done} ({facts.mode}). Top: the "
            f"wearable's acceleration on three axes over time; bottom: the movement the rep "
            f"counter follows{marks}.")


class PostPlanner:
    """Decides and renders posts for the enabled services.

    Parameters
    ----------
    settings : PostSettings
        The usable services (from `load_settings`).
    store : Store
        Read for the records that streaks and totals come from.
    rules_of : mapping of service name to LengthRule
        Each service's length rule (from its poster).
    data_dir : path, optional
        Where the training history lives, for the model's metric.
    pictures : bool
        Whether pictures can be drawn (matplotlib is installed): a service with
        ``picture = true`` gets the set's samples with its post only then.
    """

    def __init__(self, settings: PostSettings, store: Store, rules_of: dict[str, LengthRule],
                 data_dir: Path | None = None, clock: Callable[[], float] | None = None,
                 pictures: bool = True) -> None:
        import time

        self.pictures = pictures
        self.settings = settings
        self.store = store
        self.rules_of = rules_of
        self.data_dir = data_dir
        self.clock = clock or time.time

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def _records(self, user: str, now: float) -> list[stats.Record]:
        """The user's records of the last `WINDOW_DAYS` (all of them only when the streak
        reaches back that far): the cost of a post stays flat as the history grows."""
        since = now - WINDOW_DAYS * 86400
        recent = [stats.Record(*row) for row in self.store.records(user, since)]
        if stats.compute(recent, user, now, self.tz).streak_days < WINDOW_DAYS - 2:
            return recent
        return [stats.Record(*row) for row in self.store.records(user)]

    def plan(self, user: str, result: wire.Result, samples: SetSamples | None = None,
             ) -> list[QueuedPost]:
        """The posts ``result`` calls for, as if it were new (stored or not); a set post of
        a service with ``picture = true`` carries ``samples`` (the set's, when the host
        kept them). Never raises: a failure is logged and the result is stored without
        posts."""
        try:
            return self._plan(user, result, samples)
        except Exception:
            log.exception("could not prepare the posts for %s; the result is stored without "
                          "them", result.assignment_id)
            return []

    def _plan(self, user: str, result: wire.Result, samples: SetSamples | None,
              ) -> list[QueuedPost]:
        if not self.settings.services:
            return []
        now = self.clock()
        records = self._records(user, now)  # with or without this result: both handled
        same = result.assignment_id
        before = [rec._replace(result=None) if rec.assignment.id == same else rec
                  for rec in records]
        after = [rec._replace(result=dataclasses.replace(
                     result, label=result.label or rec.assignment.label))
                 if rec.assignment.id == same else rec for rec in records]
        streak_before = stats.compute(before, user, now, self.tz).streak_days
        streak_after = stats.compute(after, user, now, self.tz).streak_days
        metric = ("", "")
        assignment = next((r.assignment for r in after if r.assignment.id ==
                           result.assignment_id), None)
        if self.data_dir is not None and assignment is not None:
            metric = post_facts.metric_facts(self.data_dir, assignment.run_id,
                                             assignment.experiment)
        verified = result.verified  # False: reported in honour mode
        detail = result.detail or ""  # "cap reached: 100/100 squats today"
        caps = detail if result.outcome == "capped" or "cap" in detail else ""
        facts = post_facts.result_facts(after, user, result, now, self.tz, metric, verified,
                                        caps)
        has_samples = (samples is not None and samples.assignment_id == result.assignment_id
                       and self.pictures)
        picture = None
        posts = []
        for service in self.settings.services:
            for kind in rules.post_kinds(service.rule, result, verified, streak_before,
                                         streak_after):
                subject = result.assignment_id if kind == "set" else f"{streak_after}d"
                shown = None
                if has_samples and kind == "set" and wants_picture(service):
                    assert samples is not None
                    picture = shown = picture or PostPicture(samples.to_bytes(),
                                                             picture_alt(facts, result.unit))
                posts.append(self._post(service, user, kind, subject, facts, now,
                                        result.assignment_id, shown))
        return posts

    def _post(self, service: ServiceSettings, user: str, kind: str, subject: str,
              facts: PostFacts, now: float, assignment_id: str | None = None,
              picture: PostPicture | None = None) -> QueuedPost:
        text = service.templates[kind].render(facts, self.rules_of.get(service.name))
        return QueuedPost(post_key(service.name, user, kind, subject), service.name, user,
                          kind, text, rules.send_at(service.rule, now, self.tz), assignment_id,
                          picture)

    def daily(self, user: str) -> list[QueuedPost]:
        """Daily summaries due now that are not queued yet."""
        now = self.clock()
        due = [(s, day) for s in self.settings.services
               if (day := rules.daily_due(s.rule, now, self.tz)) is not None]
        due = [(s, day) for s, day in due
               if not self.store.outbox_keys(post_key(s.name, user, "daily", day.isoformat()))]
        if not due:
            return []
        facts = post_facts.daily_facts(self._records(user, now), user, now, self.tz)
        return [self._post(s, user, "daily", day.isoformat(), facts, now) for s, day in due]

    def test_post(self, service: ServiceSettings, user: str) -> QueuedPost:
        """A test post for ``service`` (its text names the time, so it is never a duplicate)."""
        now = self.clock()
        local = datetime.fromtimestamp(now, self.tz)
        facts = PostFacts(date=local.date().isoformat(), time=local.strftime("%H:%M:%S"))
        text = service.templates["test"].render(facts, self.rules_of.get(service.name))
        stamp = local.strftime("%H:%M:%S")
        if stamp not in text:
            text = f"{text} {stamp}"
        return QueuedPost(post_key(service.name, user, "test", f"{now:.3f}"), service.name,
                          user, "test", text, now)
