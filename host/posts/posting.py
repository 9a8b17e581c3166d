"""The host's posting parts put together: settings read, posters built, problems told once,
the worker started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from repfit.config import Config
from repfit.host.posts.planner import PostPlanner
from repfit.host.posts.poster import Poster
from repfit.host.posts.settings import PostSettings, build_poster, load_settings
from repfit.host.posts.worker import OutboxWorker, quiet_libraries
from repfit.host.store import Store

__all__ = ["Posting", "posters_for", "start_posting"]


@dataclass
class Posting:
    """The host's posting parts: plan posts with ``planner``; ``worker`` sends them."""

    settings: PostSettings
    planner: PostPlanner
    worker: OutboxWorker
    problems: tuple[str, ...]


def posters_for(settings: PostSettings) -> tuple[dict[str, Poster], list[str]]:
    """A poster per usable service, and one line per service that stays off."""
    quiet_libraries()
    posters: dict[str, Poster] = {}
    problems = list(settings.problems)
    for service in settings.services:
        try:
            posters[service.name] = build_poster(service)
        except (ImportError, ValueError) as exc:
            problems.append(f"{exc}; posting to {service.name} is off")
    return posters, problems


def start_posting(cfg: Config, store: Store, user: str, tz: ZoneInfo, data_dir: Path,
                  tell: Callable[[str], None]) -> Posting | None:
    """Read ``[posts]``, tell each problem once, start the worker; None when nothing is
    configured. The caller stops ``worker``."""
    settings = load_settings(cfg, default_tz=tz)
    if not settings.services and not settings.problems:
        return None
    posters, problems = posters_for(settings)
    for line in problems:
        tell(line)
    usable = PostSettings(settings.tz, tuple(s for s in settings.services if s.name in posters),
                          settings.problems)
    planner = PostPlanner(usable, store, {n: p.rule for n, p in posters.items()}, data_dir)

    def daily() -> None:
        store.queue_posts(planner.daily(user), planner.clock())

    worker = OutboxWorker(store, posters, tell=tell, periodic=daily, poll_s=2.0).start()
    return Posting(usable, planner, worker, tuple(problems))
