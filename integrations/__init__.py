"""Training-side adapters and the coach that turns training progress into workouts.

One module per framework, each with a ``workout(...)`` factory (the framework is imported
only by its own module; a missing one gives an ImportError naming the extra to install):

- `repfit.integrations.lightgbm` — ``lgb.train``, ``lgb.cv``, scikit-learn ``fit``
- `repfit.integrations.xgboost` — ``xgb.train``, ``xgb.cv``, scikit-learn API
- `repfit.integrations.keras` — ``model.fit`` (Keras 3, any backend)
- `repfit.integrations.lightning` — ``Trainer(callbacks=[...])``
- `repfit.integrations.hf` — Hugging Face ``Trainer(callbacks=[...])``
- `repfit.integrations.loop` — plain loops: ``for step in coach.track(...)``

Shared parts, re-exported here:

- `interrupt_penalty` — Ctrl+C -> penalty (decorator and context manager)
- `Coach`, `CoachSettings`, `Rule`, `Score`, `TrainingEvent` — the pure decision core
- `Menu`, `Exercise`, `DEFAULT_MENU` — the exercise menu
- `Publisher` — non-blocking MQTT publisher with a durable outbox
- `HistoryStore` — run history and outbox in SQLite

See ``docs/integrations.md`` for the user guide.
"""

from repfit.integrations.coach import Coach, CoachSettings, Rule, Score, TrainingEvent
from repfit.integrations.history import HistoryStore
from repfit.integrations.interrupt import interrupt_penalty
from repfit.integrations.menu import DEFAULT_MENU, Exercise, Menu
from repfit.integrations.publisher import Publisher

__all__ = [
    "DEFAULT_MENU",
    "Coach",
    "CoachSettings",
    "Exercise",
    "HistoryStore",
    "Menu",
    "Publisher",
    "Rule",
    "Score",
    "TrainingEvent",
    "interrupt_penalty",
]
