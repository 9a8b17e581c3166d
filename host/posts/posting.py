"""The host's posting parts put together: settings read, posters built, problems told once,
the worker started."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from repfit.config import Config
from repfit.host.posts.planner import PostPlanner, wants_picture
from repfit.host.posts.poster import Poster
from repfit.host.posts.settings import PostSettings, build_poster, load_settings
from repfit.host.posts.worker import OutboxWorker, quiet_libraries
from repfit.host.store import Store

__all__ = ["Posting", "can_draw", "picture_problem", "posters_for", "start_posting"]


@dataclass
class Posting:
    """The host's posting parts: plan posts with ``planner``; ``worker`` sends them.
    ``pictures``: a service posts the set's picture, so the host keeps each set's samples."""

    settings: PostSettings
    planner: PostPlanner
    worker: OutboxWorker
    problems: tuple[str, ...]
    pictures: bool = False


def can_draw() -> bool:
    """Whether set pictures can be drawn: matplotlib (the ``plot`` extra) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def picture_problem(settings: PostSettings) -> str | None:
    """The one line to say when services want a picture that cannot be drawn."""
    wanting = [s.name for s in settings.services if wants_picture(s)]
    if not wanting or can_draw():
        return None
    return (f"posts: picture = true for {', '.join(wanting)}, but matplotlib is not "
            "installed (pip install 'repfit[plot]'); posts go without a picture")


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
    usable = PostSettings(settings.tz, tuple(s for s in settings.services if s.name in posters),
                          settings.problems)
    no_pictures = picture_problem(usable)
    problems += [no_pictures] if no_pictures else []
    for line in problems:
        tell(line)
    pictures = no_pictures is None and any(wants_picture(s) for s in usable.services)
    planner = PostPlanner(usable, store, {n: p.rule for n, p in posters.items()}, data_dir,
                          pictures=pictures)

    def daily() -> None:
        store.queue_posts(planner.daily(user), planner.clock())

    worker = OutboxWorker(store, posters, tell=tell, periodic=daily, poll_s=2.0).start()
    return Posting(usable, planner, worker, tuple(problems), pictures)
