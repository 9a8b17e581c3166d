"""The live phone path counts a recording as `repfit count` does: real sets streamed as a
phone streams them (Sensor Logger pushes, a real Mosquitto, a running host) against the
count of the same files."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from phone_replay import Recording, host_counts

from repfit.config import MqttSettings
from repfit.host.recordings import count_file

#: Sets whose live count differed from `repfit count` when the phone's arrival times bent
#: the time axis, or when the host never finished a set's counter, and a push-up set.
SETS = {
    "exermote__P1__burpee__20170330T190003_set5.csv": "burpee",
    "exermote__P1__squat__20170330T190901_set6.csv": "squat",
    "spar__S2__lower-trap-row-band__E5_L.csv": "generic",
    "muvr__jan__pulldown-crunch__core-jan-1-37.csv": "generic",
    "workoutbuddy__U20__push-up__normal_2015-02-28T155920.csv": "pushup",
}


@pytest.mark.slow
def test_the_phone_route_counts_real_sets_as_repfit_count_does(
        reps_data: Path, mosquitto: MqttSettings) -> None:
    with open(reps_data / "labels.csv", newline="") as f:
        present = {row["file"] for row in csv.DictReader(f)}
    recs, offline = [], []
    for name, exercise in SETS.items():
        assert name in present, name
        result, t, acc = count_file(reps_data / "data" / name, exercise)
        recs.append(Recording(name, exercise, t, acc))
        offline.append(result.reps)
    live = asyncio.run(host_counts(mosquitto, recs, speed=30.0, seed=1))
    assert dict(zip(SETS, live, strict=True)) == dict(zip(SETS, offline, strict=True))
