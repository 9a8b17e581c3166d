"""What every benchmark script shares: the machine line and writing its section of
``docs/benchmarks.md`` (between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->``), so a
rerun replaces its own numbers and leaves the other sections alone."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

__all__ = ["machine", "write_section"]


def machine() -> str:
    """CPU model, core count and Python version of this run."""
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    m = re.search(r"Model name:\s*(.+)", out)
    if m:
        model = m.group(1).strip()
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(path: Path, name: str, text: str) -> None:
    """Replace section ``name`` of ``path`` with ``text`` (appended if it has none yet)."""
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    doc = path.read_text()
    if begin not in doc or end not in doc:
        doc = doc.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text.rstrip()}\n{end}{tail}")
