"""The CLI's parsers load no signal processing: every command pays for its own imports only."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from repfit.host import cli
cli.build_parser().parse_args(["history"])
print(" ".join(sorted(m for m in ("scipy", "scipy.signal", "repfit.detection._counter")
                      if m in sys.modules)))
"""


def test_building_the_parsers_loads_neither_scipy_nor_the_counter() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_the_counter_still_loads_on_first_use() -> None:
    import repfit.detection as detection

    assert detection.RepCounter("squat").profile.name == "squat"
    assert detection.GRID_HZ == 25.0
    assert {"RepCounter", "GRID_HZ"} <= set(dir(detection))
    with pytest.raises(AttributeError, match="NoSuchThing"):
        detection.NoSuchThing  # noqa: B018
