"""repfit count: CSV reading, per-file errors, JSON lines, unit hints, plotting."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from repfit.detection.simulate import simulate_set
from repfit.host.recordings import RecordingError, add_count_parser, read_csv, run_count


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repfit")
    add_count_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["count", *argv])


def _write(path: Path, t: np.ndarray, acc: np.ndarray, header: str = "t,ax,ay,az") -> Path:
    rows = "\n".join(",".join(f"{v:.5f}" for v in (ti, *a)) for ti, a in zip(t, acc,
                                                                              strict=True))
    path.write_text(header + "\n" + rows + "\n")
    return path


def test_reads_extra_columns_in_any_order(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("az,label,t,ax,ay\n1.0,a,0.0,0.1,0.2\n0.9,b,0.02,0.1,0.3\n")
    t, acc = read_csv(p)
    assert t.tolist() == [0.0, 0.02]
    assert acc.tolist() == [[0.1, 0.2, 1.0], [0.1, 0.3, 0.9]]


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty file"),
    ("time,x,y,z\n0,0,0,1\n", "missing column"),
    ("t,ax,ay,az\n0,0,0,1\n0.02,0,zero,1\n", r"x.csv:3: expected 4 numbers"),
    ("t,ax,ay,az\n", "no samples"),
    ("t,ax,ay,az\n0,0,0,9.81\n0.02,0,0.1,9.8\n", "m/s\\^2, not g; pass --units ms2"),
    ("t,ax,ay,az\n0,0,0,1002\n0.02,0,30,998\n", "milli-g, not g; pass --units mg"),
    ("t,ax,ay,az\n" + "".join(f"{20 * i},0,0,1\n" for i in range(20)), "milliseconds"),
])
def test_corrupt_files_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(RecordingError, match=match):
        read_csv(p)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(b"\xff\xfe\x00\x01" * 20)
    with pytest.raises(RecordingError, match="not a text CSV"):
        read_csv(p)


def test_json_lines_in_file_order_and_errors_do_not_stop_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = []
    for i, reps in enumerate((6, 9)):
        rec = simulate_set("squat", reps=reps, position="chest", seed=i)
        good.append(_write(tmp_path / f"s{i}.csv", rec.t, rec.acc))
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax\n0,1\n")
    rc = run_count(_parse(str(good[0]), str(bad), str(good[1]), "--exercise", "squat",
                          "--json"))
    assert rc == 1
    out, err = capsys.readouterr()
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert [ln["file"] for ln in lines] == [str(good[0]), str(bad), str(good[1])]
    assert abs(lines[0]["reps"] - 6) <= 1 and abs(lines[2]["reps"] - 9) <= 1
    for ln in (lines[0], lines[2]):
        assert set(ln) >= {"file", "reps", "rep_times", "hold_seconds", "exercise", "rejected"}
        assert ln["hold_seconds"] is None and len(ln["rep_times"]) == ln["reps"]
    assert "missing column" in lines[1]["error"] and "bad.csv" in err


def test_units_ms2_converts_and_plank_reports_seconds(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    rec = simulate_set("plank", hold_s=20.0, position="chest", seed=1)
    p = _write(tmp_path / "plank.csv", rec.t, rec.acc * 9.80665)
    assert run_count(_parse(str(p), "--exercise", "plank", "--units", "ms2", "--json")) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["reps"] == 0 and line["hold_seconds"] > 10.0


def test_units_mg_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = simulate_set("squat", reps=8, position="thigh", seed=4)
    in_g = _write(tmp_path / "g.csv", rec.t, rec.acc)
    in_mg = _write(tmp_path / "mg.csv", rec.t, rec.acc * 1000.0)
    assert run_count(_parse(str(in_g), "--exercise", "squat", "--json")) == 0
    assert run_count(_parse(str(in_mg), "--exercise", "squat", "--units", "mg", "--json")) == 0
    g, mg = (json.loads(ln) for ln in capsys.readouterr().out.splitlines())
    assert g["reps"] == mg["reps"] >= 7
    assert g["rep_times"] == mg["rep_times"]


def test_gravity_removed_is_counted_with_a_warning(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    rec = simulate_set("squat", reps=8, position="thigh", seed=4)
    p = _write(tmp_path / "linear.csv", rec.t, rec.acc - rec.acc.mean(axis=0))
    with caplog.at_level(logging.WARNING):
        t, _ = read_csv(p)
    assert t.size == rec.t.size
    assert "gravity seems to have been removed" in caplog.text and "linear.csv" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_csv(_write(tmp_path / "total.csv", rec.t, rec.acc))
    assert "gravity" not in caplog.text


def test_text_output_spellings_and_exercises_without_a_profile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    rec = simulate_set("situp", reps=5, position="chest", seed=2)
    p = _write(tmp_path / "s.csv", rec.t, rec.acc)
    assert run_count(_parse(str(p), "--exercise", "situp")) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("reps (situp)")
    # The labels people write find the same profile, and the same count.
    for spelling in ("sit-up", "Sit-Ups", "sit_up"):
        assert run_count(_parse(str(p), "--exercise", spelling)) == 0
        assert capsys.readouterr().out.strip() == out
    # An exercise without a profile is counted as generic rhythmic motion, and says so.
    with caplog.at_level("WARNING"):
        assert run_count(_parse(str(p), "--exercise", "yoga", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["exercise"] == "generic"
    assert "no detection profile for exercise 'yoga'" in caplog.text


def test_plot_writes_an_image_per_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    rec = simulate_set("squat", reps=5, position="chest", seed=3)
    a = _write(tmp_path / "a.csv", rec.t, rec.acc)
    b = _write(tmp_path / "b.csv", rec.t, rec.acc)
    assert run_count(_parse(str(a), str(b), "--exercise", "squat",
                            "--plot", str(tmp_path / "out.png"))) == 0
    for name in ("out-1.png", "out-2.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_counts_real_recordings(capsys: pytest.CaptureFixture[str], reps_data: Path) -> None:
    files = sorted((reps_data / "data").glob("exermote__P1__squat__*.csv"))[:5]
    assert run_count(_parse(*map(str, files), "--exercise", "squat", "--json")) == 0
    labels = {ln.split(",")[0]: int(ln.split(",")[5])
              for ln in (reps_data / "labels.csv").read_text().splitlines()[1:]}
    for ln in capsys.readouterr().out.splitlines():
        got = json.loads(ln)
        assert abs(got["reps"] - labels[Path(got["file"]).name]) <= 1


def test_an_exercise_refused_at_the_sensor_position_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = simulate_set("situp", reps=8, position="thigh", seed=4)
    path = _write(tmp_path / "situps.csv", rec.t, rec.acc)
    assert run_count(_parse(str(path), "--exercise", "sit-ups", "--position", "pocket")) == 1
    out = capsys.readouterr().out
    assert "refused, not counted" in out and "can't be counted from a trouser pocket" in out
    assert run_count(_parse(str(path), "--exercise", "situp", "--position", "thigh",
                            "--json")) == 1
    line = json.loads(capsys.readouterr().out)
    assert (line["reps"], line["position"]) == (0, "thigh")
    assert "wear the sensor on the wrist" in line["refused"]
    # Where it can be counted, it is, and the line says nothing was refused.
    chest = simulate_set("situp", reps=8, position="chest", seed=4)
    counted = _write(tmp_path / "chest.csv", chest.t, chest.acc)
    assert run_count(_parse(str(counted), "--exercise", "situp", "--position", "chest",
                            "--json")) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["refused"] is None and abs(line["reps"] - 8) <= 1


def test_an_unknown_position_names_the_known_ones(tmp_path: Path) -> None:
    from repfit.config import ConfigError

    rec = simulate_set("squat", reps=3, seed=1)
    path = _write(tmp_path / "s.csv", rec.t, rec.acc)
    with pytest.raises(ConfigError, match=r"--position: expected .*wrist, upper_arm, chest, "
                                          r"thigh.*got 'knee'"):
        run_count(_parse(str(path), "--exercise", "squat", "--position", "knee"))
