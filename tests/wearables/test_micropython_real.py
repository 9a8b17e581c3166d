"""The MicroPython firmware encoder under a real MicroPython interpreter, byte for byte.

MicroPython's official WebAssembly port (npm ``@micropython/micropython-webassembly-
pyscript``) runs under Node.js: the same interpreter core as on the boards, with MicroPython's
own ``struct``. It imports ``device_firmware/micropython/repfit_packet.py`` and encodes every
golden vector; the bytes must equal the C reference's. Set ``REPFIT_MICROPYTHON_JS`` to the
port's ``micropython.mjs`` (``.ci/run`` installs it); without it the test is skipped, unless
``REPFIT_REQUIRE_MICROPYTHON`` is set (CI sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIRMWARE

DRIVER_JS = """
import { readFileSync } from "node:fs";
const [moduleUrl, packetPy, programPy] = process.argv.slice(2);
const { loadMicroPython } = await import(moduleUrl);
let out = "";
const mp = await loadMicroPython({ stdout: (line) => { out += line + "\\n"; } });
mp.FS.writeFile("/repfit_packet.py", readFileSync(packetPy));
mp.runPython(readFileSync(programPy, "utf8"));
process.stdout.write(out);
"""

PROGRAM_PY = """
import sys
import json
sys.path.append("/")
import repfit_packet as rp

vectors = json.loads(%r)
out = {"implementation": sys.implementation.name, "packets": [], "control": [], "mg": [],
       "per_packet": []}
for v in vectors["packets"]:
    flat = [c for s in v["samples"] for c in s]
    data = rp.encode(flat, len(v["samples"]), v["rate_hz"], v["first_index"], v["t_us"],
                     v["range_code"], v["overflow"])
    out["packets"].append("".join("%%02x" %% b for b in data))
for v in vectors["control"]:
    out["control"].append(list(rp.parse_control(bytes.fromhex(v["hex"]))))
for v in vectors["mg_to_raw"]:
    out["mg"].append(rp.mg_to_raw(v["mg"], v["range_code"]))
for mtu in (0, 23, 247, 517):
    out["per_packet"].append(rp.samples_per_packet(mtu))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def micropython_js() -> Path:
    js = os.environ.get("REPFIT_MICROPYTHON_JS")
    node = shutil.which("node")
    missing = ("REPFIT_MICROPYTHON_JS is not set" if not js else
               f"{js} does not exist" if not Path(js).is_file() else
               "node is not installed" if node is None else None)
    if missing:
        if os.environ.get("REPFIT_REQUIRE_MICROPYTHON"):
            pytest.fail(f"a real MicroPython is required (REPFIT_REQUIRE_MICROPYTHON): {missing}")
        pytest.skip(f"no real MicroPython interpreter: {missing}")
    return Path(str(js))


def test_micropython_encoder_produces_the_golden_vectors_under_micropython(
        micropython_js: Path, vectors: dict[str, Any], tmp_path: Path) -> None:
    driver = tmp_path / "driver.mjs"
    driver.write_text(DRIVER_JS)
    program = tmp_path / "program.py"
    program.write_text(PROGRAM_PY % json.dumps(vectors))
    run = subprocess.run(["node", str(driver), micropython_js.resolve().as_uri(),
                          str(FIRMWARE / "micropython" / "repfit_packet.py"), str(program)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["implementation"] == "micropython"
    assert got["packets"] == [v["hex"] for v in vectors["packets"]]
    for (op, value), v in zip(got["control"], vectors["control"], strict=True):
        if "error" in v:
            assert value == -v["error"], v["name"]
        else:
            assert op == v["opcode"], v["name"]
    assert got["mg"] == [v["raw"] for v in vectors["mg_to_raw"]]
    assert got["per_packet"] == [0, 1, 38, 83]
