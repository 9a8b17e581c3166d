"""Fuzz every decoder: how many inputs were tried, and how many crashed it.

A crash is any exception other than the decoder's one documented error: `WireError` for
`repfit.wire.decode` (each topic kind), `PacketError` for the Sensor Logger decoder and the
BLE packet decoders, `RecordingError` for `read_csv`. Target: 0 crashes after 1,000,000
inputs per decoder.

Inputs: Hypothesis (derandomized, so a rerun tries the same inputs) draws a base input per
example from the property tests' strategies (``tests/decoder_inputs.py``: a valid message
mutated field by field at any level with hostile values and raw JSON fragments, spliced or
raw bytes, a CSV with a hostile cell; BLE packets from the encoders with spliced bytes) and a
seed for a byte-level mutator, which derives ``--per-example`` - 1 more inputs from the base
(bit flips, interesting bytes, inserted JSON fragments, deleted/duplicated ranges,
truncation, crossover with another seed). Crashing inputs are written to ``--crash-dir``.

    python benchmarks/fuzz_decoders.py --inputs 1000000 --write docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from _report import machine, write_section
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from decoder_inputs import (  # noqa: E402  (the property tests' input strategies)
    CSV_SEED,
    FRAGMENTS,
    PHONE_DOCS,
    TOPICS,
    WIRE_SEEDS,
    mutated,
    mutated_csv,
    spliced_bytes,
)

from repfit import wire  # noqa: E402
from repfit.host.recordings import RecordingError, read_csv  # noqa: E402
from repfit.host.sources import PacketError  # noqa: E402
from repfit.host.sources._packets import (  # noqa: E402
    decode_microbit,
    decode_polar_pmd,
    decode_repfit,
    decode_thingy52,
    decode_witmotion,
    encode_repfit,
)
from repfit.host.sources._phone import decode_sensor_logger  # noqa: E402

_JSON_TOKENS = [f.encode("utf-8", "surrogatepass") for f in FRAGMENTS] + [
    b"[", b"]", b"{", b"}", b",", b":", b'"', b"\\", b"\\u", b"-", b"e", b".", b"0", b"null",
    b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x00", b"\x1b]0;x\x07", b"\n"]
_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, ord("["), ord("{"), ord('"'), ord("\\"), ord("9")]


@dataclass
class Target:
    """One decoder under fuzz: how to call it, its documented error, where inputs start."""

    name: str
    error: type[Exception]
    call: Callable[[bytes], Any]
    seeds: list[bytes]
    base: st.SearchStrategy[bytes]
    tokens: list[bytes] = field(default_factory=lambda: _JSON_TOKENS)


@dataclass
class Tally:
    inputs: int = 0
    accepted: int = 0
    refused: int = 0
    crashes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def havoc(data: bytes, rng: random.Random, target: Target) -> bytes:
    """1-4 stacked byte-level mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[rng.randrange(len(buf))] = rng.choice(_INTERESTING)
        elif op == 2:
            buf[at:at] = rng.choice(target.tokens)
        elif op == 3:
            del buf[at:at + rng.randint(1, 16)]
        elif op == 4 and buf:
            start = rng.randrange(len(buf))
            buf[at:at] = buf[start:start + rng.randint(1, 32)]
        elif op == 5:
            del buf[at:]
        else:
            other = rng.choice(target.seeds)
            cut = rng.randint(0, len(other))
            buf[at:] = other[cut:]
    return bytes(buf)


def _csv_reader(path: Path) -> Callable[[bytes], Any]:
    def call(data: bytes) -> Any:
        path.write_bytes(data)
        return read_csv(path)

    return call


def _ble_seeds() -> dict[str, list[bytes]]:
    rng = np.random.default_rng(1)
    repfit = [encode_repfit(rng.integers(-32768, 32767, (n, 3)), first_index=i * 40,
                            t_us=i * 400_000, rate_hz=100, range_code=i % 4)
              for i, n in enumerate((1, 6, 40))]
    head = struct.pack("<BQB", 0x02, 722_000_000_000_000_000, 0x01)
    polar_raw = head + struct.pack("<6h", 10, -20, 1000, 12, -18, 990)
    # delta frame: reference sample, then one block of 2 samples x 3 axes x 4-bit deltas
    polar_delta = struct.pack("<BQB", 0x02, 722_000_000_000_000_000, 0x80) + \
        struct.pack("<3h", 0, 0, 1000) + bytes([4, 2]) + bytes([0x21, 0x43, 0x65])
    wit = bytes([0x55, 0x61]) + struct.pack("<9h", 100, -200, 2048, 0, 0, 0, 0, 0, 0)
    return {
        "ble/repfit": repfit,
        "ble/microbit": [struct.pack("<hhh", 12, -40, 1010)],
        "ble/polar": [polar_raw, polar_delta],
        "ble/witmotion": [wit, wit * 3, bytes([0x55, 0x71]) + bytes(18), wit[:8]],
        "ble/thingy52": [struct.pack("<9h", 10, -20, 1024, 1, 2, 3, 4, 5, 6)],
    }


def targets(tmp: Path) -> list[Target]:
    out: list[Target] = []
    for kind, topic in TOPICS.items():
        seeds = [wire.encode(m) for m in WIRE_SEEDS[kind]]
        docs = [__import__("json").loads(s) for s in seeds]
        out.append(Target(f"wire/{kind}", wire.WireError, partial(wire.decode, topic), seeds,
                          st.one_of(mutated(docs), spliced_bytes(seeds),
                                    st.binary(max_size=300))))
    phone = [__import__("json").dumps(d).encode() for d in PHONE_DOCS]
    out.append(Target("sensor-logger", PacketError, decode_sensor_logger, phone,
                      st.one_of(mutated(PHONE_DOCS), spliced_bytes(phone),
                                st.binary(max_size=300))))
    csv_tokens = [b",", b"\n", b'"', b"\r", b"\x00", b"nan", b"1e400", b"9" * 5000,
                  b"1" * 140_000, b"\xff", b"t,ax,ay,az\n"]
    out.append(Target("csv", RecordingError, _csv_reader(tmp / "fuzz.csv"), [CSV_SEED],
                      st.one_of(mutated_csv(), spliced_bytes([CSV_SEED]),
                                st.binary(max_size=300)), csv_tokens))
    ble_calls: dict[str, Callable[[bytes], Any]] = {
        "ble/repfit": decode_repfit, "ble/microbit": decode_microbit,
        "ble/polar": partial(decode_polar_pmd, rate_hz=52.0),
        "ble/witmotion": decode_witmotion, "ble/thingy52": decode_thingy52,
    }
    for name, seeds in _ble_seeds().items():
        raw_tokens = [bytes([b]) * k for b in (0, 0x55, 0x61, 0x80, 0xFF) for k in (1, 2, 7)]
        out.append(Target(name, PacketError, ble_calls[name], seeds,
                          st.one_of(st.sampled_from(seeds), spliced_bytes(seeds),
                                    st.binary(max_size=64)), raw_tokens))
    return out


def fuzz(target: Target, inputs: int, per_example: int, crash_dir: Path | None) -> Tally:
    tally = Tally()

    def attempt(data: bytes) -> None:
        tally.inputs += 1
        try:
            target.call(data)
        except target.error:
            tally.refused += 1
            return
        except Exception as exc:  # counting exactly these is the point
            tally.crashes += 1
            key = f"{type(exc).__name__}: {str(exc)[:80]}"
            tally.kinds[key] = tally.kinds.get(key, 0) + 1
            if crash_dir is not None and tally.kinds[key] == 1:
                crash_dir.mkdir(parents=True, exist_ok=True)
                stem = f"{target.name.replace('/', '-')}-{tally.crashes}"
                (crash_dir / f"{stem}.bin").write_bytes(data)
                (crash_dir / f"{stem}.txt").write_text(traceback.format_exc())
            return
        tally.accepted += 1

    examples = max(1, math.ceil(inputs / per_example))

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(base=target.base, seed=st.integers(0, 2**32 - 1))
    def run(base: bytes, seed: int) -> None:
        rng = random.Random(seed)
        attempt(base)
        for _ in range(per_example - 1):
            if tally.inputs >= inputs:
                return
            # mostly around this example's input; sometimes around a valid one
            start = base if rng.random() < 0.75 else rng.choice(target.seeds)
            attempt(havoc(start, rng, target))

    start = time.perf_counter()
    run()
    tally.seconds = time.perf_counter() - start
    return tally


def report(rows: list[tuple[Target, Tally]], command: str) -> str:
    lines = [
        "## Decoders: fuzzing (`benchmarks/fuzz_decoders.py`)",
        "",
        f"Command: `{command}` -- machine: {machine()}.",
        "",
        "A crash is any exception other than the decoder's one documented error. Inputs: "
        "Hypothesis (derandomized) draws a base input per example from the property tests' "
        "strategies (a valid message mutated field by field at any level with hostile values "
        "and raw JSON fragments such as 100,000 `[`, a 5,000-digit integer, `NaN`; spliced or "
        "raw bytes; a CSV with a hostile cell; BLE packets from the encoders), and a seed for "
        "a byte-level mutator that derives the rest of the example's inputs from it. Rates "
        "depend on the machine's load during the run; the counts do not.",
        "",
        "| decoder | documented error | inputs | accepted | refused | crashes | inputs/s "
        "| time for 1,000,000 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, t in rows:
        rate = t.inputs / t.seconds if t.seconds else float("nan")
        lines.append(f"| {target.name} | `{target.error.__name__}` | {t.inputs:,} | "
                     f"{t.accepted:,} | {t.refused:,} | **{t.crashes}** | {rate:,.0f} | "
                     f"{1e6 / rate / 60:.1f} min |")
    crashes = [(target.name, k, n) for target, t in rows for k, n in t.kinds.items()]
    lines.append("")
    if crashes:
        lines.append("Crashes found:")
        lines += [f"- {name}: {k} ({n}x)" for name, k, n in crashes]
    else:
        total = sum(t.inputs for _, t in rows)
        lines.append(f"No crash in {total:,} inputs.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per decoder")
    parser.add_argument("--per-example", type=int, default=200,
                        help="inputs derived from each Hypothesis example (1 = no mutator)")
    parser.add_argument("--decoder", action="append", default=[],
                        help="only decoders whose name starts with this (repeatable)")
    parser.add_argument("--crash-dir", type=Path, default=None,
                        help="write each new kind of crash (input and traceback) here")
    parser.add_argument("--write", type=Path, default=None,
                        help="write the table into this markdown file's fuzz section")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # read_csv's unit hints would print on every input
    # The command as it reproduces these numbers (a crash folder is no part of them).
    command = " ".join(["python benchmarks/fuzz_decoders.py", f"--inputs {args.inputs}",
                        f"--per-example {args.per_example}",
                        *(f"--decoder {d}" for d in args.decoder),
                        *([f"--write {args.write.as_posix()}"] if args.write else [])])
    rows = []
    shm = Path("/dev/shm")  # memory-backed if there is one: read_csv's file is rewritten per input
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        for target in targets(Path(tmp)):
            if args.decoder and not any(target.name.startswith(d) for d in args.decoder):
                continue
            tally = fuzz(target, args.inputs, args.per_example, args.crash_dir)
            rows.append((target, tally))
            print(f"{target.name:16} {tally.inputs:>10,} inputs {tally.crashes:>6} crashes "
                  f"{tally.inputs / tally.seconds:>9,.0f}/s", flush=True)
    text = report(rows, command)
    print("\n" + text)
    if args.write:
        write_section(args.write, "fuzz", text)
    return 1 if any(t.crashes for _, t in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
