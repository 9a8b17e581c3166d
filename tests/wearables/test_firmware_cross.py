"""The firmware packet library builds for the boards it runs on: a Cortex-M4 (nRF52 class).

Cross-compiled with Debian's ``gcc-arm-none-eabi``, freestanding, with no C library headers
(only the compiler's own ``stdint.h``/``stddef.h``) and warnings as errors, then linked
with nothing but libgcc: any dependency on a hosted C library fails here. Skipped when the
cross compiler is not installed, unless ``REPFIT_REQUIRE_ARM_GCC`` is set (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import C_SOURCES

FLAGS = ["-std=c99", "-mcpu=cortex-m4", "-mthumb", "-ffreestanding", "-nostdinc", "-Wall",
         "-Wextra", "-pedantic", "-Werror", "-Os"]


@pytest.fixture(scope="module")
def arm_gcc() -> str:
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        if os.environ.get("REPFIT_REQUIRE_ARM_GCC"):
            pytest.fail("arm-none-eabi-gcc is required (REPFIT_REQUIRE_ARM_GCC is set) but "
                        "not installed: apt-get install gcc-arm-none-eabi")
        pytest.skip("arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi)")
    return gcc


def test_packet_library_cross_compiles_freestanding_for_cortex_m4(arm_gcc: str,
                                                                  tmp_path: Path) -> None:
    include = subprocess.run([arm_gcc, "-print-file-name=include"], capture_output=True,
                             text=True, check=True).stdout.strip()
    objects = []
    for src in C_SOURCES:
        obj = tmp_path / (src.stem + ".o")
        out = subprocess.run([arm_gcc, *FLAGS, "-isystem", include, "-c", str(src), "-o",
                              str(obj)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        objects.append(str(obj))
    # Link with no C library at all: only libgcc's helpers (64-bit division) may be needed.
    elf = tmp_path / "repfit_packet.elf"
    out = subprocess.run([arm_gcc, "-mcpu=cortex-m4", "-mthumb", "-nostdlib",
                          "-Wl,-e,rf_encode", "-o", str(elf), *objects, "-lgcc"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    header = elf.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 40  # ARM


def test_a_hosted_header_would_fail_the_check(arm_gcc: str, tmp_path: Path) -> None:
    # The check itself can fail: a source that needs the C library's <stdio.h> is refused.
    src = tmp_path / "hosted.c"
    src.write_text("#include <stdio.h>\nint f(void) { return 0; }\n")
    out = subprocess.run([arm_gcc, *FLAGS, "-c", str(src), "-o", str(tmp_path / "h.o")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "stdio.h" in out.stderr
