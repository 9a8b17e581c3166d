"""``repfit post`` and ``repfit outbox``: see what would be posted, send a test post, and
manage the outbox's pending and failed items."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from repfit.config import Config, ConfigError
from repfit.host.store import Store

if TYPE_CHECKING:  # the posting modules load when a command runs (they need the extra)
    from repfit.host.posts.planner import PostPlanner
    from repfit.host.posts.settings import PostSettings, ServiceSettings

__all__ = ["add_outbox_parser", "add_post_parser", "run_outbox", "run_post"]


def add_post_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    post = sub.add_parser(
        "post", help="show what would be posted, or send a test post",
        description="--dry-run prints, for each enabled service ([posts.NAME] in the config), "
                    "what a stored result would post, its length by that service's count, "
                    "and whether the set's picture would be attached (picture = true in the "
                    "service's table); nothing is sent. --test SERVICE sends one test post "
                    "now (text only).")
    what = post.add_mutually_exclusive_group(required=True)
    what.add_argument("--dry-run", action="store_true",
                      help="print the posts for RESULT (default: the latest result) and "
                           "whether each would carry the set's picture")
    what.add_argument("--test", metavar="SERVICE", help="send one test post to SERVICE")
    post.add_argument("result", nargs="?", metavar="RESULT",
                      help="an assignment id from `repfit history` (with --dry-run)")
    post.add_argument("--user", metavar="NAME", help="user name (default: config)")
    post.add_argument("--data-dir", type=Path, metavar="DIR",
                      help="where history is stored (default: the user data directory)")


def add_outbox_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    outbox = sub.add_parser(
        "outbox", help="list pending and failed posts; retry or drop one",
        description="Posts wait in the outbox until their service takes them. Lists the "
                    "pending, in-doubt and failed ones (with --all, the sent ones too).")
    outbox.add_argument("--retry", type=int, metavar="ID",
                        help="send a failed or held item again (now)")
    outbox.add_argument("--drop", type=int, metavar="ID", help="never send this item")
    outbox.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="where history is stored (default: the user data directory)")
    outbox.add_argument("--all", dest="show_all", action="store_true",
                        help="also list sent and dropped items")


def _store(args: Any, cfg: Config, write: bool = False) -> Store:
    """The store; read-only (never creating a file) unless the command changes it."""
    data_dir = args.data_dir or cfg.data_dir
    return Store.in_dir(data_dir) if write else Store.read_only_in(data_dir)


def run_post(args: Any, cfg: Config, tz: ZoneInfo) -> int:
    try:
        from repfit.host.posts.planner import PostPlanner
        from repfit.host.posts.posting import posters_for
        from repfit.host.posts.settings import load_settings
    except ImportError as exc:
        raise ConfigError("post", exc.name, "the posting extra: pip install "
                                            "'repfit[social]'") from None
    settings = load_settings(cfg, default_tz=tz)
    for line in settings.problems:
        print(line, file=sys.stderr)
    if not settings.services:
        print("no service is set up for posting ([posts.NAME] in the config; see "
              "docs/posts.md)", file=sys.stderr)
        return 1
    posters, problems = posters_for(settings)
    for line in problems[len(settings.problems):]:
        print(line, file=sys.stderr)
    user = args.user or cfg.user
    with _store(args, cfg, write=bool(args.test)) as store:
        planner = PostPlanner(settings, store, {n: p.rule for n, p in posters.items()},
                              args.data_dir or cfg.data_dir)
        if args.test:
            return _test(args.test, settings, planner, posters, user)
        return _dry_run(args.result, settings, planner, store, user, posters)


def _dry_run(wanted: str | None, settings: PostSettings, planner: PostPlanner, store: Store,
             user: str, posters: dict[str, Any]) -> int:
    results = [r for _, _, _, r in store.records(user) if r is not None]
    if wanted is not None:
        results = [r for r in results if r.assignment_id == wanted]
    if not results:
        raise ConfigError("RESULT", wanted or "(latest)", f"a stored result of {user} "
                          "(repfit history lists them)")
    result = results[-1]
    posts = {p.service: p for p in planner.plan(user, result) if p.kind == "set"}
    print(f"result {result.assignment_id} of {user}:")
    for service in settings.services:
        rule = planner.rules_of.get(service.name)
        post = posts.get(service.name)
        when = ", ".join(sorted(service.rule.when))
        if post is None:
            print(f"- {service.name}: nothing (posts on: {when})")
            continue
        length = f" ({rule.length(post.text)}/{rule.limit})" if rule else ""
        print(f"- {service.name}{length}:\n{post.text}")
        print(f"  picture: {_picture(service, posters.get(service.name), store, result)}")
    return 0


def _picture(service: ServiceSettings, poster: Any, store: Store, result: Any) -> str:
    """Whether the set's picture would go with ``service``'s post, and if not, why."""
    from repfit.host.posts.planner import wants_picture
    from repfit.host.posts.posting import can_draw
    from repfit.host.posts.worker import draw_picture
    from repfit.host.setsamples import SetSamplesError

    if not wants_picture(service):
        return "off (picture = true in its table attaches the set's plot)"
    if poster is not None and poster.picture_limit <= 0:
        return f"none: a {service.options.get('format', 'json')} webhook takes no picture"
    if not can_draw():
        return "none: matplotlib is not installed (pip install 'repfit[plot]')"
    stored = store.post_picture(result.assignment_id)
    if stored is None:
        return ("on, but none for this set: the host keeps a set's samples only while a "
                "post with its picture waits")
    try:
        picture = draw_picture(stored)
    except (ImportError, SetSamplesError, ValueError) as exc:
        return f"none: it cannot be drawn ({exc})"
    width, height = picture.size or (0, 0)
    limit = poster.picture_limit if poster is not None else 0
    if limit and len(picture.png) > limit:
        return f"none: the plot ({len(picture.png)} bytes) is larger than it takes ({limit})"
    return (f"the set's plot, PNG {width}x{height}, {len(picture.png) / 1024:.0f} KiB; "
            f"alt text: {picture.alt}")


def _test(name: str, settings: PostSettings, planner: PostPlanner, posters: dict[str, Any],
          user: str) -> int:
    service = next((s for s in settings.services if s.name == name), None)
    if service is None or name not in posters:
        raise ConfigError("--test", name, "a usable service: " + (", ".join(posters) or
                                                                  "none is set up"))
    from repfit.host.posts.poster import Post, PostError

    queued = planner.test_post(service, user)
    try:
        receipt = posters[name].send(Post(queued.text, queued.key, queued.not_before))
    except PostError as exc:
        print(f"test post to {name} failed: {exc.reason}", file=sys.stderr)
        return 5
    print(f"test post sent to {name}: {receipt}")
    return 0


def run_outbox(args: Any, cfg: Config) -> int:
    now = time.time()
    with _store(args, cfg, write=args.retry is not None or args.drop is not None) as store:
        for option, item_id, state in (("--retry", args.retry, "pending"),
                                       ("--drop", args.drop, "dropped")):
            if item_id is None:
                continue
            found = store.outbox(item_id=item_id)
            if not found or found[0].state == "sent":
                raise ConfigError(option, item_id, "the id of an item not yet sent "
                                                   "(repfit outbox lists them)")
            store.outbox_update(item_id, state, now, not_before=now, told=False)
            if state == "dropped":
                store.prune_pictures()
            print(f"item {item_id} ({found[0].service}): {state}")
        states = ("pending", "sending", "failed") + (("sent", "dropped") if args.show_all
                                                     else ())
        items = store.outbox(states)
    if not items:
        print("the outbox is empty")
    for item in items:
        when = datetime.fromtimestamp(item.not_before).strftime("%Y-%m-%d %H:%M")
        state = "in doubt" if item.state == "sending" else item.state
        detail = f" ({item.error})" if item.error else ""
        receipt = f" -> {item.receipt}" if item.receipt else ""
        kind = f"{item.kind}+picture" if item.picture else item.kind
        print(f"{item.id:>4}  {item.service:<10} {state:<8} {kind:<9} {when} "
              f"tries {item.attempts}{detail}{receipt}\n      {item.text}")
    return 0
