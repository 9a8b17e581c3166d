"""`repfit demo`: the whole product on one machine with no hardware and no set-up.

An in-process broker (or ``--broker``), the host, a simulated athlete wearing a simulated
sensor, and a short real LightGBM training whose callback assigns the workout. It ends with
the verified result; the exit status says whether the workout was verified as completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from repfit.config import MqttSettings
from repfit.host.athlete import Athlete, perform_assignments
from repfit.host.audio import CuePlayer, default_player
from repfit.host.broker import EmbeddedBroker
from repfit.host.bus import Bus
from repfit.host.console import ConsoleObserver
from repfit.host.service import WorkoutHost
from repfit.host.store import Store

__all__ = ["DEMO_EXPERIMENT", "DemoOptions", "run_demo", "train_demo_model"]

log = logging.getLogger(__name__)

DEMO_EXPERIMENT = "repfit-demo"
"""The experiment the demo's training runs as: its assignments are told apart from real ones."""


@dataclass(frozen=True)
class DemoOptions:
    user: str = "demo"
    exercise: str = "random"
    reps: int = 10
    seed: int | None = None
    speed: float = 2.0
    effort: float = 1.0
    rounds: int = 200
    data_dir: Path = Path(".")
    broker: MqttSettings | None = None
    sound: bool = True
    #: Where the simulated athlete wears the sensor; the host is told the same.
    position: str = "wrist"


def synthetic_data(seed: int, n: int = 4000, d: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A binary classification problem with signal in a few features (fast, reproducible)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    logits = x[:, 0] * 1.5 - x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + rng.normal(scale=0.8, size=n)
    return x, (logits > 0).astype(int)


def train_demo_model(settings: MqttSettings, opts: DemoOptions, console: Console) -> float:
    """Train a small LightGBM model with the repfit callback; returns the best validation AUC."""
    import lightgbm as lgb

    from repfit.integrations.lightgbm import workout

    x, y = synthetic_data(opts.seed or 0)
    split = int(0.8 * len(y))
    train = lgb.Dataset(x[:split], y[:split])
    valid = lgb.Dataset(x[split:], y[split:], reference=train)
    evals: dict[str, dict[str, list[float]]] = {}
    # The with-block flushes the callback's messages before the broker can go away. A hold
    # lasts as many iterations as this training has (the menu's 500 would outlast it).
    with workout(user=opts.user, broker=settings.url, exercise=opts.exercise, reps=opts.reps,
                 iterations=opts.rounds, seed=opts.seed, data_dir=opts.data_dir,
                 history=False, experiment=DEMO_EXPERIMENT) as callback:
        booster = lgb.train(
            {"objective": "binary", "metric": "auc", "num_leaves": 15, "learning_rate": 0.05,
             "verbose": -1, "num_threads": 1, "seed": opts.seed or 0},
            train,
            num_boost_round=opts.rounds,
            valid_sets=[valid],
            valid_names=["valid"],
            callbacks=[callback, lgb.record_evaluation(evals)],
        )
    best = max(evals["valid"]["auc"])
    console.print(f"[blue]training[/] {booster.current_iteration()} iterations, "
                  f"best validation AUC {best:.4f}")
    return best


async def _until_published(store: Store, user: str, timeout_s: float = 5.0) -> None:
    """Give the host's result keeper time to record the broker's acknowledgement before the
    broker goes away; otherwise the next run would find the result unpublished and resend it."""
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(store.unpublished_results, user):
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.1)


async def _without_leftovers(host: WorkoutHost, observer: ConsoleObserver, console: Console,
                             serving: asyncio.Task[Any]) -> None:
    """Once the host is up: what it closed of an interrupted demo is said, not shown as
    this demo's result."""
    ready = asyncio.create_task(host.ready.wait())
    await asyncio.wait([ready, serving], return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        serving.result()          # the host could not start: its error
        return
    if observer.results:
        console.print(f"[dim]closed {len(observer.results)} unfinished workout(s) of an "
                      "interrupted demo as cancelled[/]")
    observer.results.clear()
    observer.finished.clear()


async def run_demo(opts: DemoOptions, console: Console | None = None,
                   player: CuePlayer | None = None) -> int:
    """Run the demo; 0 when the workout was verified as completed, 1 otherwise."""
    console = console or Console()
    observer = ConsoleObserver(console)
    async with contextlib.AsyncExitStack() as stack:
        if opts.broker is None:
            broker = await stack.enter_async_context(EmbeddedBroker())
            settings = MqttSettings(host=broker.host, port=broker.port)
            console.print(f"[dim]embedded MQTT broker on {settings.url}[/]")
        else:
            settings = opts.broker
            console.print(f"[dim]MQTT broker {settings.url}[/]")
        store = stack.enter_context(Store.recovering(opts.data_dir))
        if player is None and opts.sound:
            player = default_player(opts.data_dir / "cues")
        host_bus = await stack.enter_async_context(Bus(settings, user=opts.user, role="host"))
        athlete = Athlete(effort=opts.effort, speed=opts.speed, seed=opts.seed or 0,
                          position=opts.position)
        # A demo stopped before its workout was settled left it open in the store: resumed,
        # this demo's athlete would count towards that old set.
        host = WorkoutHost(host_bus, store, observer=observer, player=player,
                           position=athlete.position,
                           abandon=lambda a: a.experiment == DEMO_EXPERIMENT)
        athlete_bus = await stack.enter_async_context(
            Bus(settings, user=opts.user, role="wearable"))
        started = time.time() - 1.0
        tasks = [
            asyncio.create_task(host.run(), name="host"),
            asyncio.create_task(perform_assignments(athlete_bus, athlete, limit=1, since=started),
                                name="athlete"),
        ]
        try:
            await _without_leftovers(host, observer, console, tasks[0])
            await asyncio.to_thread(train_demo_model, settings, opts, console)
            waiter = asyncio.create_task(observer.finished.wait())
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if not waiter.done():
                # The athlete has stopped moving: give the counter a moment, then settle.
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=5.0)
                except asyncio.TimeoutError:
                    await host.cancel_active()
                await waiter
            await _until_published(store, opts.user)
        finally:
            observer.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    result = observer.results[0]
    home = Path.home()
    shown = f"~/{store.path.relative_to(home)}" if store.path.is_relative_to(home) \
        else str(store.path)
    console.print(f"[dim]stored in {shown} (repfit history --user {opts.user})[/]")
    return 0 if result.completed else 1
