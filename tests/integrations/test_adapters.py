"""What all framework adapters share: a clear error when the framework is missing."""

from __future__ import annotations

import importlib
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.mark.parametrize(("module", "extra"), [
    ("xgboost", "xgboost"), ("keras", "keras"), ("lightning", "lightning"), ("hf", "hf"),
])
def test_a_missing_framework_names_the_extra_to_install(module, extra, monkeypatch):
    try:
        adapter = importlib.import_module(f"repfit.integrations.{module}")
    except ImportError as exc:  # pragma: no cover - only without the framework
        pytest.skip(str(exc))
    monkeypatch.setattr(adapter, "_IMPORT_ERROR", ImportError("No module named 'x'"))
    with pytest.raises(ImportError, match=rf"pip install 'repfit\[{extra}\]'"):
        adapter.workout()


def test_importing_the_package_pulls_in_no_framework():
    import subprocess
    import sys

    code = ("import sys, repfit.integrations, repfit.integrations.lightgbm, "
            "repfit.integrations.loop; "
            "print(sorted(m for m in ('xgboost', 'keras', 'torch', 'transformers', 'lightning')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("module", ["lightgbm", "xgboost", "keras", "lightning", "hf", "loop"])
def test_every_adapter_rejects_unknown_keywords(module):
    adapter = importlib.import_module(f"repfit.integrations.{module}")
    with pytest.raises(TypeError, match="unknown workout argument"):
        adapter.workout(exercize="squats")


class _CoreCalls:
    """Stands in for `AdapterCore`: records what leaving a ``with`` block asks of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def interrupted(self) -> None:
        self.calls.append("interrupted")

    def close(self, timeout: float = 5.0) -> None:
        self.calls.append("close")


@pytest.mark.parametrize("module", ["lightgbm", "xgboost", "keras", "lightning", "hf", "loop"])
def test_ctrl_c_leaving_the_with_block_gives_the_penalty_then_closes(module, tmp_path):
    adapter = importlib.import_module(f"repfit.integrations.{module}")
    cb = adapter.workout(broker="mqtt://127.0.0.1:9", data_dir=tmp_path)
    cb.core = core = _CoreCalls()
    with pytest.raises(KeyboardInterrupt), cb as entered:
        assert entered is cb
        raise KeyboardInterrupt
    # Lightning reports Ctrl+C through on_exception; the with block must not penalise again.
    assert core.calls == (["close"] if module == "lightning" else ["interrupted", "close"])
