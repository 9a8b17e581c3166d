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
