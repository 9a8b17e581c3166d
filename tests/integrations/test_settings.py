"""The [training] config: menu, penalties and rewards, and what bad config does."""

from __future__ import annotations

import logging
import textwrap

import lightgbm as lgb
import pytest

from repfit.config import ConfigError
from repfit.integrations.coach import Rule
from repfit.integrations.lightgbm import workout
from repfit.integrations.menu import DEFAULT_MENU, menu_from_tables
from repfit.integrations.session import WorkoutOptions
from repfit.integrations.settings import __doc__ as SETTINGS_DOC
from repfit.integrations.settings import coach_settings_from_tables

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def test_the_documented_example_is_the_default():
    example = SETTINGS_DOC.split("::", 1)[1]
    parsed = coach_settings_from_tables(tomllib.loads(textwrap.dedent(example)))
    assert parsed == coach_settings_from_tables({})


def test_penalties_and_rewards_are_configurable():
    s = coach_settings_from_tables({"training": {
        "penalty": {"exercise": "squats", "size": 30},
        "reward": {"enabled": True, "exercise": "random"},
        "interrupt": False,
        "checkpoint_every": 50,
    }})
    assert s.penalty == Rule(True, "squats", 30.0)
    assert s.reward == Rule(True, "random", 5.0)
    assert s.interrupt.enabled is False
    assert s.checkpoint_every == 50


@pytest.mark.parametrize(("training", "key"), [
    ({"tick_evry": 5}, "training.tick_evry"),
    ({"checkpoint_every": 0}, "training.checkpoint_every"),
    ({"announce_s": "soon"}, "training.announce_s"),
    ({"penalty": {"size": -3}}, "training.penalty.size"),
    ({"reward": {"enabled": "yes"}}, "training.reward.enabled"),
    ({"interrupt": {"reps": 3}}, "training.interrupt.reps"),
    ({"higher_is_better": 1}, "training.higher_is_better"),
])
def test_bad_settings_name_the_key(training, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        coach_settings_from_tables({"training": training})


def test_menu_from_config():
    menu = menu_from_tables({"training": {"menu": {
        "burpees": {"detector": "burpee", "reps": 8, "seconds_per_rep": 4},
        "wall sit": {"detector": "generic", "type": "duration", "seconds": 45},
        "plank": {"iterations": 300},
    }}})
    assert menu.names == ("burpees", "wall sit", "plank")
    b, w, p = menu.exercises
    assert (b.detector, b.type, b.target, b.seconds_per_rep) == ("burpee", "count", 8, 4)
    assert (w.type, w.unit, w.target) == ("duration", "seconds", 45)
    assert (p.detector, p.type, p.unit, p.target) == ("plank", "duration", "iterations", 300)
    assert menu_from_tables({}) is DEFAULT_MENU
    assert DEFAULT_MENU.names == ("push-ups", "squats", "sit-ups", "jumping jacks", "plank")


@pytest.mark.parametrize(("entry", "key"), [
    ({"detector": "yoga"}, "training.menu.x.detector"),
    ({"detector": "squat", "type": "hold"}, "training.menu.x.type"),
    ({"detector": "squat", "reps": 0}, "training.menu.x.reps"),
    ({"detector": "plank", "iterations": 5, "seconds": 5}, "training.menu.x.seconds"),
    ({"detector": "squat", "colour": "red"}, "training.menu.x.colour"),
])
def test_bad_menu_entries_name_the_key(entry, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        menu_from_tables({"training": {"menu": {"x": entry}}})


def test_a_malformed_config_file_warns_and_training_uses_defaults(tmp_path, caplog,
                                                                   binary_data):
    caplog.set_level(logging.WARNING, logger="repfit")
    bad = tmp_path / "config.toml"
    bad.write_text("[training\nexercise = 'squats'\n")
    xt, yt, _, _ = binary_data
    with workout(config=bad, broker="mqtt://127.0.0.1:9", data_dir=tmp_path) as cb:
        booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(xt, yt), 5,
                            callbacks=[cb])
    assert booster.current_iteration() == 5
    msgs = [r.getMessage() for r in caplog.records if "config" in r.getMessage()]
    assert len(msgs) == 1 and "valid TOML" in msgs[0] and str(bad) in msgs[0]
    assert cb.core.resolved().menu is DEFAULT_MENU


def test_a_bad_training_section_keeps_the_rest_of_the_config(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="repfit")
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent("""
        user = "cfguser"
        [training]
        checkpoint_every = -1
        [training.menu.burpees]
        detector = "burpee"
        reps = 6
    """))
    resolved = WorkoutOptions(config=path, data_dir=tmp_path).resolve()
    assert resolved.user == "cfguser"
    assert resolved.settings.checkpoint_every == 100
    assert resolved.menu.names == ("burpees",)
    assert "training.checkpoint_every" in caplog.text


def test_config_file_menu_and_exercise_drive_the_assignment(mosquitto, user, listen,
                                                            tmp_path, binary_data):
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(f"""
        user = "{user}"
        [mqtt]
        url = "{mosquitto.url}"
        [training]
        exercise = "burpees"
        [training.menu.burpees]
        detector = "burpee"
        reps = 6
        seconds_per_rep = 4
    """))
    listener = listen(user)
    xt, yt, _, _ = binary_data
    with workout(config=path, data_dir=tmp_path) as cb:
        lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(xt, yt), 3,
                  callbacks=[cb])
    a = listener.assignment()
    assert (a.exercise, a.target, a.seconds_per_rep) == ("burpee", 6.0, 4.0)
