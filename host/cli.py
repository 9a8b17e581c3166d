"""The ``repfit`` command: one thin function per sub-command that parses, calls, prints."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from repfit import __version__, wire
from repfit.config import (
    FILE_KEY,
    USER_NAME_RULE,
    Config,
    ConfigError,
    MqttSettings,
    Secret,
    broker_settings,
    default_config_path,
    is_user_name,
    load,
)
from repfit.host.sources import SourceError, WearableSource
from repfit.host.store import Store, StoreDamaged, StoreError, StoreMissing

if TYPE_CHECKING:
    from repfit.host.caps import CapRules
    from repfit.host.livepage import WebAddress
    from repfit.host.posts.posting import Posting
    from repfit.host.store import Store

__all__ = ["build_parser", "main"]

log = logging.getLogger("repfit")


class Args(argparse.Namespace):
    """Typed view of the parsed command line (fields of all sub-commands)."""

    command: str
    verbose: int
    config: Path | None
    broker: str | None
    user: str | None
    data_dir: Path | None
    sound: bool
    exercise: str
    reps: int
    seed: int | None
    speed: float
    effort: float
    rounds: int
    since_days: float
    device: str | None
    phone: str | None
    replay: str | None
    bind: str
    port: int
    ws_port: int | None
    password_file: Path | None
    add_user: str | None
    json: bool
    tz: str | None
    format: str
    since_date: str | None
    output: Path | None
    web: str | None
    remove: bool
    plot: Path | None
    assignment: str | None
    done_reps: int | None
    done_seconds: float | None
    wait_s: float
    position: str | None


def _add_connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL",
                   help="MQTT broker, e.g. mqtt://127.0.0.1:1883 (default: config / "
                        "REPFIT_MQTT_URL). Credentials: REPFIT_MQTT_USERNAME / _PASSWORD")
    p.add_argument("--user", metavar="NAME", help="repfit user name (default: config / "
                                                  "REPFIT_USER, else 'me')")


def _add_store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="where history is stored (default: the user data directory)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repfit",
        description="Reps while your model fits: verified workouts driven by your training runs.",
    )
    parser.add_argument("--version", action="version", version=f"repfit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="config file (default: the user config directory's config.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo", help="the whole loop on this machine: broker, host, simulated wearable, "
                     "LightGBM training",
        description="Start an embedded MQTT broker (unless --broker), the host and a simulated "
                    "athlete, then train a small LightGBM model whose callback assigns a "
                    "workout. Shows live progress and ends with the verified result. Exit "
                    "status 0 when the workout was verified as completed.")
    demo.add_argument("--broker", metavar="URL", help="use this broker instead of an embedded one")
    demo.add_argument("--user", metavar="NAME", default=None, help="user name (default: demo)")
    demo.add_argument("--exercise", default="random",
                      help="exercise to assign, or 'random' (default)")
    demo.add_argument("--reps", type=int, default=10, help="target reps (default: 10)")
    demo.add_argument("--seed", type=int, default=None, help="seed for a reproducible run")
    demo.add_argument("--speed", type=float, default=2.0,
                      help="simulated athlete's playback speed, 1 = real time (default: 2)")
    demo.add_argument("--effort", type=float, default=1.0,
                      help="fraction of the target the athlete does (default: 1); at 1 or "
                           "more it keeps going, up to 3 reps beyond, until the host says "
                           "the set is done")
    demo.add_argument("--rounds", type=int, default=200, help="LightGBM boosting rounds")
    demo.add_argument("--no-sound", dest="sound", action="store_false",
                      help="do not play or render cue sounds")
    _add_store_args(demo)

    host = sub.add_parser(
        "host", help="verify workouts: listen for assignments and count reps",
        description="Subscribe to the user's assignments and wearable samples, count reps, "
                    "publish progress, store and print verified results. Runs until Ctrl+C.")
    _add_connection_args(host)
    _add_store_args(host)
    host.add_argument("--no-sound", dest="sound", action="store_false",
                      help="do not play cues from the training side")
    host.add_argument("--web", metavar="[ADDR:]PORT", default=None,
                      help="serve the live page (read-only) on PORT of 127.0.0.1, or on ADDR; "
                           "any address but loopback needs the token printed at start")
    host.add_argument("--tz", metavar="ZONE",
                      help="time zone whose midnight starts the live views' day (default: "
                           "the caps' timezone in config.toml, else TZ, else this machine's "
                           "zone)")
    from repfit.host import wearables_cli
    from repfit.host.wearing import add_position_arg

    add_position_arg(host, " (default: sensor_position in config.toml)")

    wearables_cli.add_source_args(host, required=False)

    broker = sub.add_parser(
        "broker", help="run the embedded MQTT broker (no Mosquitto needed)",
        description="Run repfit's embedded MQTT broker (amqtt) until Ctrl+C, so the training "
                    "side, the host and a phone (Sensor Logger publishes over websockets) "
                    "have a broker to meet on. Without --password-file it allows anonymous "
                    "clients: it binds loopback unless --bind says otherwise; bind 0.0.0.0 "
                    "only with a password file, or on a network you trust.")
    broker.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for the LAN)")
    broker.add_argument("--port", type=int, default=1883,
                        help="MQTT port (default: 1883; 0: any free port, printed at start)")
    broker.add_argument("--ws-port", type=int, default=None, metavar="PORT",
                        help="also accept MQTT over websockets on this port (phones; "
                             "Sensor Logger's usual port is 9001)")
    broker.add_argument("--password-file", type=Path, metavar="FILE",
                        help="accept only the users in FILE (NAME:argon2-hash lines; write "
                             "them with --add-user)")
    broker.add_argument("--add-user", metavar="NAME",
                        help="add NAME to --password-file (password from "
                             "REPFIT_BROKER_PASSWORD, else asked for) and exit")

    history = sub.add_parser("history", help="list stored results, with dates",
                             description="The stored results of one user, with their dates; "
                                         "with none, which users have some.")
    history.add_argument("--user", metavar="NAME", help="user name (default: config)")
    history.add_argument("--days", dest="since_days", type=float, default=7.0,
                         help="how many days back (default: 7)")
    _add_store_args(history)
    _add_books_parsers(sub)

    ha = sub.add_parser(
        "homeassistant", help="remove the user's Home Assistant entities",
        description="The host announces the user's Home Assistant entities itself when the "
                    "config says [homeassistant] enabled = true. --remove publishes an empty "
                    "retained config on each of their discovery topics (and clears their "
                    "state topic), which makes Home Assistant delete them.")
    _add_connection_args(ha)
    ha.add_argument("--remove", action="store_true", required=True,
                    help="remove the entities (required: the only action)")

    done = sub.add_parser(
        "done", help="honour mode, with no wearable: report a set you did; it is recorded "
                     "as reported, never as verified",
        description="Report a set done without a wearable (honour mode). The host records it "
                    "as reported, never as verified, and only when the config file allows it: "
                    '`honour = true`, or a list of the users it is on for (`honour = ["ada"]`). '
                    "Needs a running host.")
    done.add_argument("assignment", nargs="?", metavar="ID",
                      help="the assignment (its id, or the start of it as lines show it; "
                           "default: the one the host has open)")
    done.add_argument("--reps", dest="done_reps", type=int, metavar="N",
                      help="how many you did (default: the whole target)")
    done.add_argument("--seconds", dest="done_seconds", type=float, metavar="S",
                      help="for a hold: how long you held it (default: the whole target)")
    done.add_argument("--wait", dest="wait_s", type=float, default=10.0, metavar="S",
                      help="how long to wait for the host's answer (default: 10)")
    _add_connection_args(done)

    _add_plugin_commands(sub)
    return parser


def _add_books_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``stats`` and ``export``: read-only views of the stored results."""
    tz_help = "time zone whose midnight starts a day, e.g. Europe/Paris (default: TZ, else " \
              "this machine's zone)"
    stats = sub.add_parser(
        "stats", help="today and this week per exercise, caps used and left, streaks, "
                      "penalties and rewards",
        description="Verified sets and amounts today and this week per exercise (sets "
                    "reported in honour mode apart), how much of each daily cap is used and "
                    "left, the streak of days in a row with a verified, completed set (and the "
                    "best one), and the penalties and rewards each experiment handed out.")
    stats.add_argument("--user", metavar="NAME", help="user name (default: config)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of text")
    stats.add_argument("--tz", metavar="ZONE",
                       help="time zone whose midnight starts a day, e.g. Europe/Paris (default: "
                            "the caps' timezone in config.toml, else TZ, else this machine's "
                            "zone)")
    stats.add_argument("--plot", type=Path, metavar="OUT.png",
                       help="also draw the last 30 days as charts: reps per day per "
                            "exercise, sets verified or not, the streak, penalties and "
                            "rewards per training run beside its final validation metric "
                            "(needs repfit[plot])")
    _add_store_args(stats)
    export = sub.add_parser(
        "export", help="write every assignment and its result as CSV or JSON",
        description="One row per stored assignment with its result's fields (empty while "
                    "it is open); times in ISO 8601.")
    export.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="output format (default: csv)")
    export.add_argument("--since", dest="since_date", metavar="DATE",
                        help="only from this day on (YYYY-MM-DD, local midnight)")
    export.add_argument("--user", metavar="NAME", help="only this user (default: all users)")
    export.add_argument("--output", "-o", type=Path, metavar="FILE",
                        help="write to FILE instead of standard output")
    export.add_argument("--tz", metavar="ZONE", help=tz_help)
    _add_store_args(export)


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Sub-commands whose implementation lives next to the code they drive."""
    with contextlib.suppress(ImportError):
        from repfit.host import recordings

        recordings.add_count_parser(sub)
    with contextlib.suppress(ImportError):
        from repfit.host import wearables_cli

        wearables_cli.add_scan_parser(sub)
        wearables_cli.add_stream_parser(sub)
    from repfit.host.posts import commands as posts_commands

    posts_commands.add_post_parser(sub)
    posts_commands.add_outbox_parser(sub)


def _setup_logging(verbose: int) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    from repfit.display_text import OneLineFormatter

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=Console(stderr=True), show_path=False)
        handler.setFormatter(OneLineFormatter("%(name)s: %(message)s", datefmt="[%X]"))
    else:  # logs going to a file or a pipe: one line per record, never wrapped
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: "
                                              "%(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    if verbose == 0:
        # amqtt warns when a client acknowledges a message twice (harmless, and the embedded
        # broker's own business); without -v it would interleave with the demo's lines.
        logging.getLogger("amqtt.mqtt.protocol.handler").setLevel(logging.ERROR)


def _config(args: Args) -> Config:
    """The config; each unusable value is one warning line (naming where it came from) and
    falls back on its own. Commands that need a value call ``Config.check`` for it."""
    cfg = load(args.config)
    for problem in cfg.problems:
        prefix = "" if problem.key == FILE_KEY else "config: "
        log.warning("%s%s; using %s", prefix, problem, problem.fallback or "the default")
    return cfg


def _settings(args: Args, cfg: Config) -> MqttSettings:
    """The broker for a command that needs one: a broker problem is an error here."""
    if args.broker:
        cfg.check("mqtt.username", "mqtt.password")
        return broker_settings(args.broker, cfg.mqtt, key="--broker")
    cfg.check("mqtt")
    return cfg.mqtt


def _cmd_demo(args: Args) -> int:
    from repfit.host.demo import DemoOptions, run_demo
    from repfit.host.wearing import position_setting

    cfg = _config(args)
    opts = DemoOptions(
        user=args.user or "demo", exercise=args.exercise, reps=args.reps, seed=args.seed,
        speed=args.speed, effort=args.effort, rounds=args.rounds,
        data_dir=args.data_dir or cfg.data_dir,
        broker=_settings(args, cfg) if args.broker else None, sound=args.sound,
        position=position_setting(cfg.tables, _source(cfg)) or "wrist",
    )
    if opts.reps < 1 or opts.speed <= 0 or not 0 <= opts.effort <= 2 or opts.rounds < 1:
        raise ConfigError("demo options", f"reps={opts.reps} speed={opts.speed} "
                          f"effort={opts.effort} rounds={opts.rounds}",
                          "reps >= 1, speed > 0, effort in [0, 2], rounds >= 1")
    try:
        return asyncio.run(run_demo(opts))
    except KeyboardInterrupt:
        print("repfit: demo interrupted; its open workout is closed when the next demo "
              "starts", file=sys.stderr)
        return 130


async def _serve(args: Args, cfg: Config, settings: MqttSettings,
                 sources: Sequence[WearableSource]) -> int:
    from repfit.host import homeassistant
    from repfit.host.audio import default_player
    from repfit.host.bus import Bus
    from repfit.host.console import ConsoleObserver
    from repfit.host.honour import honour_mode
    from repfit.host.liveviews import LiveViews
    from repfit.host.setsamples import SetRecorder
    from repfit.host.store import Store

    if not args.user:
        cfg.check("user")
    # A signing key that was meant but cannot be used must not turn into accepting anyone.
    cfg.check("signing_key")
    user = args.user or cfg.user
    data_dir = args.data_dir or cfg.data_dir
    caps = _caps(cfg, user)
    honour = honour_mode(cfg.tables, user, _source(cfg))
    position = args.position            # resolved by _cmd_host, before any wearable
    observer = ConsoleObserver()
    web = _web_address(args)
    ha = homeassistant.settings_from(cfg.tables, str(cfg.source_path or ""))
    tz = _zone(args) if args.tz else caps.timezone
    with Store.recovering(data_dir) as store:
        player = default_player(data_dir / "cues") if args.sound else None
        async with Bus(settings, user=user, role="host", persistent=True,
                       client_id=_host_client_id(user, data_dir),
                       signing_key=cfg.signing_key) as bus:
            observer.console.print(f"repfit host for [bold]{user}[/] on {settings.url}; "
                                   f"history in {store.path}. Ctrl+C to stop.")
            observer.console.print(f"daily caps: {caps.describe()}"
                                   + ("; honour mode on (`repfit done`)" if honour else "")
                                   + (f"; sensor worn at: {position}" if position else ""),
                                   markup=False)
            posting = _start_posting(cfg, store, user, data_dir, tz,
                                     observer.console.print)
            try:
                async with LiveViews(bus, store, user, tz, web=web, homeassistant=ha,
                                     console=observer.console, caps=caps) as views:
                    await views.workout_host(
                        observer, player=player, caps=caps, honour=honour, position=position,
                        posts=posting.planner.plan if posting else None,
                        recorder=SetRecorder() if posting and posting.pictures else None,
                    ).run(sources)
            finally:
                observer.close()
                if posting:
                    posting.worker.stop()
    return 0


def _start_posting(cfg: Config, store: Store, user: str, data_dir: Path, tz: ZoneInfo,
                   tell: Callable[[str], None]) -> Posting | None:
    """Accountability posts when the config sets up a service (docs/posts.md); days are
    those of ``tz`` (--tz, else the caps' zone) unless ``[posts] timezone`` says otherwise."""
    if not cfg.tables.get("posts"):
        return None
    try:
        from repfit.host.posts.posting import start_posting
    except ImportError as exc:
        tell(f"posts: {exc.name} is not installed (pip install 'repfit[social]'); "
             "posting is off")
        return None
    return start_posting(cfg, store, user, tz, data_dir, tell)


def _web_address(args: Args) -> WebAddress | None:
    from repfit.host.livepage import parse_web_address

    if args.web is None:
        return None
    try:
        return parse_web_address(args.web)
    except ValueError as exc:
        raise ConfigError("--web", args.web, f"[ADDR:]PORT ({exc})") from None


def _host_client_id(user: str, data_dir: Path) -> str:
    """The host's stable client id: one per user, machine and data directory, so that two
    hosts of one user (each with its own history) never take each other's broker session."""
    import hashlib
    import socket

    from repfit.mqtt_link import stable_client_id

    where = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:6]
    return stable_client_id("host", user, f"{where}-{socket.gethostname()}")


def _cmd_host(args: Args) -> int:
    from rich.console import Console

    from repfit.host import wearables_cli

    cfg = _config(args)
    settings = _settings(args, cfg)     # a broker setting that cannot work, before any scan
    from repfit.host.wearing import position_setting

    args.position = position_setting(cfg.tables, _source(cfg), args.position)
    sources: list[WearableSource] = []
    if args.device or args.phone or args.replay:
        try:
            sources.append(wearables_cli.open_from_args(args, Console(stderr=True), cfg.mqtt))
        except ConfigError:
            raise
        except ValueError as exc:
            option, value = next((f"--{k}", v) for k in ("device", "phone", "replay")
                                 if (v := getattr(args, k)))
            raise ConfigError(option, value, f"a usable wearable ({exc})") from None
    try:
        return asyncio.run(_serve(args, cfg, settings, sources))
    except KeyboardInterrupt:
        return 130


def _cmd_broker(args: Args) -> int:
    from repfit.host.broker import EmbeddedBroker

    for option, port in (("--port", args.port), ("--ws-port", args.ws_port)):
        if port is not None and not 0 <= port < 65536:
            raise ConfigError(option, str(port), "a TCP port, 1-65535 (0: any free one)")

    if args.add_user is not None:
        return _add_broker_user(args)

    async def serve() -> None:
        async with EmbeddedBroker(port=args.port, ws_port=args.ws_port, host=args.bind,
                                  password_file=args.password_file) as b:
            ws = f", websockets on ws://{b.host}:{b.ws_port}" if b.ws_port else ""
            print(f"embedded MQTT broker on {b.url}{ws}. Ctrl+C to stop.", flush=True)
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 130
    return 0


def _add_broker_user(args: Args) -> int:
    import getpass
    import os

    from repfit.host.broker import add_user

    if args.password_file is None or args.add_user is None:
        raise ConfigError("--add-user", args.add_user, "--password-file FILE as well")
    password = os.environ.get("REPFIT_BROKER_PASSWORD") or getpass.getpass(
        f"password for {args.add_user}: ")
    if not password:
        raise ConfigError("--add-user", args.add_user, "a non-empty password")
    add_user(args.password_file, args.add_user, password)
    print(f"{args.add_user} can log in to the embedded broker started with "
          f"--password-file {args.password_file}")
    return 0


def _cmd_history(args: Args) -> int:
    import time

    from repfit.host.console import describe_result

    cfg = _config(args)
    user = args.user or cfg.user
    data_dir = _books_dir(args, cfg)
    since = time.time() - args.since_days * 86400
    try:
        with Store.read_only_in(data_dir) as store:     # creates nothing
            results = [(a, r) for _, _, a, r in store.records(user, since)
                       if r is not None and r.finished_at >= since]
            others = _other_users(store, user) if not results else ""
    except StoreMissing:
        print(f"no results for {user}: nothing stored yet in {data_dir}")
        return 0
    if not results:
        print(f"no results for {user} in the last {args.since_days:g} days{others}")
    for a, r in results:
        print(describe_result(r, date=True, assignment=a))
    return 0


def _zone(args: Args) -> ZoneInfo:
    """``--tz``, else ``TZ``, else this machine's zone, else UTC."""
    from repfit.host.days import resolve_zone

    return resolve_zone(args.tz, "--tz")


def _source(cfg: Config) -> str:
    return str(cfg.source_path) if cfg.source_path else ""


def _caps(cfg: Config, user: str) -> CapRules:
    from repfit.host.caps import rules_from_tables

    return rules_from_tables(cfg.tables, user, _source(cfg))


def _books_dir(args: Args, cfg: Config) -> Path:
    """The data directory a read-only command reads; a file there is an error, not an empty
    history."""
    data_dir: Path = args.data_dir or cfg.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError("--data-dir" if args.data_dir else "data directory", str(data_dir),
                          "a directory (where repfit keeps its history)")
    return data_dir


def _other_users(store: Store, user: str) -> str:
    """"; results are stored for demo (3) (--user NAME)", or "": the hint for a user with
    nothing on record while others have (the demo stores as "demo")."""
    others = [(u, n) for u, n in store.users_with_results() if u != user]
    if not others:
        return ""
    return "; results are stored for " + ", ".join(f"{u} ({n})" for u, n in others) + \
        " (--user NAME)"


def _stored_records(data_dir: Path, user: str | None, since: float = 0.0,
                    ) -> list[tuple[str, float, wire.Assignment, wire.Result | None]]:
    """`Store.records` of a data directory, read-only: nothing stored yet is no records,
    and no folder or database is created."""

    try:
        with Store.read_only_in(data_dir) as store:
            return store.records(user, since)
    except StoreMissing:
        return []


def _cmd_stats(args: Args) -> int:
    import json
    import time

    from repfit.host import stats

    cfg = _config(args)
    user = args.user or cfg.user
    caps = _caps(cfg, user)
    tz = _zone(args) if args.tz else caps.timezone
    data_dir = _books_dir(args, cfg)
    records = [stats.Record(*row) for row in _stored_records(data_dir, user)]
    computed = stats.compute(records, user, time.time(), tz, caps)
    if not records:
        with contextlib.suppress(StoreMissing), Store.read_only_in(data_dir) as store:
            hint = _other_users(store, user)
            if hint:
                print(f"nothing stored for {user}{hint}", file=sys.stderr)
    if args.plot is not None:
        _plot_history(args.plot, records, user, tz, args.data_dir or cfg.data_dir)
    if args.json:
        print(json.dumps(stats.to_json(computed), indent=2))
    else:
        print("\n".join(stats.render(computed)))
    return 0


def _plot_history(path: Path, records: list[Any], user: str, tz: ZoneInfo,
                  data_dir: Path) -> None:
    import time

    try:
        from repfit.host import charts

        image = charts.png(charts.history(records, user, time.time(), tz,
                                          run_scores=charts.read_run_scores(data_dir)), user)
    except ImportError:
        raise ConfigError("--plot", str(path), "matplotlib installed: "
                          "pip install 'repfit[plot]'") from None
    try:
        path.write_bytes(image)
    except OSError as exc:
        raise ConfigError("--plot", str(path),
                          f"a file that can be written ({exc.strerror})") from None
    print(f"charts written to {path}", file=sys.stderr)


def _cmd_export(args: Args) -> int:
    import datetime as dt
    import json

    from repfit.host import stats

    cfg = _config(args)
    tz = _zone(args)
    since = 0.0
    if args.since_date:
        try:
            day = dt.date.fromisoformat(args.since_date)
        except ValueError:
            raise ConfigError("--since", args.since_date, "a date, YYYY-MM-DD") from None
        since = dt.datetime.combine(day, dt.time(), tz).timestamp()
    records = [stats.Record(*row) for row in _stored_records(_books_dir(args, cfg),
                                                              args.user, since)]
    rows = stats.export_rows(records, tz)
    text = json.dumps(rows, indent=2) + "\n" if args.format == "json" else stats.export_csv(rows)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError("--output", str(args.output),
                              f"a file that can be written ({exc.strerror})") from None
        print(f"{len(rows)} assignments written to {args.output}", file=sys.stderr)
    return 0


def _cmd_homeassistant(args: Args) -> int:
    from repfit.host import homeassistant
    from repfit.host.bus import Bus

    cfg = _config(args)
    user = args.user or cfg.user
    ha = homeassistant.settings_from(cfg.tables, str(cfg.source_path or ""))

    async def remove() -> int:
        async with Bus(_settings(args, cfg), user=user, role="host") as bus:
            return await homeassistant.remove(bus, prefix=ha.discovery_prefix)

    n = asyncio.run(remove())
    print(f"cleared {n} retained Home Assistant topics of {user} under "
          f"{ha.discovery_prefix}/ (the entities disappear from Home Assistant)")
    return 0


def _cmd_done(args: Args) -> int:
    from repfit.host.console import describe_result
    from repfit.host.honour import honour_mode

    cfg = _config(args)
    user = args.user or cfg.user
    if not honour_mode(cfg.tables, user, _source(cfg)):
        file = Path(args.config) if args.config else default_config_path()
        where = file if file.exists() else f"{file} (create it)"
        print(f"repfit done: honour mode is off for {user}, so the host would refuse a set "
              f"reported without a wearable. To allow it, add `honour = true` (or "
              f'`honour = ["{user}"]`) to {where}; see `repfit done --help`.', file=sys.stderr)
        return 2
    for option, value in (("--reps", args.done_reps), ("--seconds", args.done_seconds)):
        if value is not None and not value >= 0:
            raise ConfigError(option, value, "a number >= 0")
    result = asyncio.run(_report(args, _settings(args, cfg), user, cfg.signing_key))
    if result is None:
        return 1
    print(describe_result(result))
    return 0


async def _report(args: Args, settings: MqttSettings, user: str,
                  signing_key: Secret | None) -> wire.Result | None:
    """Send the report and wait for the host's answer: the result, marked reported."""
    import time

    from repfit.host.bus import Bus

    async with Bus(settings, user=user, role="wearable", signing_key=signing_key) as bus:
        await bus.subscribe("status", "result")
        hosts: set[str] = set()
        sent = time.time()

        def answer(m: wire.Message) -> bool:
            if isinstance(m, wire.Status) and m.role == "host":
                (hosts.add if m.online else hosts.discard)(m.client_id)
            return isinstance(m, wire.Result) and m.outcome == "reported" and \
                m.finished_at >= sent - 1.0 and \
                (not args.assignment or m.assignment_id.startswith(args.assignment))

        async def first_answer() -> wire.Result:
            async for incoming in bus.messages():
                if answer(incoming.message):
                    assert isinstance(incoming.message, wire.Result)
                    return incoming.message
            raise ConnectionError("the broker connection ended")

        waiting = asyncio.ensure_future(first_answer())
        bus.publish(wire.Report(assignment_id=args.assignment, reps=args.done_reps,
                                hold_seconds=args.done_seconds, at=sent))
        try:
            return await asyncio.wait_for(waiting, max(0.1, args.wait_s))
        except asyncio.TimeoutError:
            where = "no host is online for " + user if not hosts else \
                f"host {', '.join(sorted(hosts))} did not answer"
            print(f"repfit: no answer within {args.wait_s:g} s ({where}; is honour mode on "
                  "where `repfit host` runs, and is an assignment open?)", file=sys.stderr)
            return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv, namespace=Args())
    _setup_logging(args.verbose)
    handlers = {"demo": _cmd_demo, "host": _cmd_host, "broker": _cmd_broker,
                "history": _cmd_history, "stats": _cmd_stats, "export": _cmd_export,
                "homeassistant": _cmd_homeassistant, "done": _cmd_done}
    try:
        user = getattr(args, "user", None)
        if user is not None and not is_user_name(user):
            raise ConfigError("--user", user, USER_NAME_RULE)
        if args.command in handlers:
            return handlers[args.command](args)
        return _run_plugin_command(args)
    except ConfigError as exc:
        print(f"repfit: configuration error: {exc}", file=sys.stderr)
        return 2
    except (ConnectionError, SourceError) as exc:
        print(f"repfit: {exc}", file=sys.stderr)
        return 3
    except StoreDamaged as exc:
        print(f"repfit: {exc} (it was left untouched; `repfit host` keeps it aside under a "
              "timestamped name and starts a new one)", file=sys.stderr)
        return 4
    except StoreError as exc:
        print(f"repfit: {exc}", file=sys.stderr)
        return 4


def _run_plugin_command(args: Args) -> int:
    if args.command == "count":
        from repfit.host import recordings

        return recordings.run_count(args)
    if args.command in ("post", "outbox"):
        from repfit.host.posts import commands as posts_commands

        if args.command == "outbox":
            return posts_commands.run_outbox(args, _config(args))
        cfg = _config(args)  # days as the host counts them: the caps' zone
        return posts_commands.run_post(args, cfg, _caps(cfg, args.user or cfg.user).timezone)
    from repfit.host import wearables_cli

    runner = {"scan": wearables_cli.run_scan, "stream": wearables_cli.run_stream}[args.command]
    return runner(args)
