"""The worker's glibc malloc parameters (``pipeline.worker.runtime.tune_malloc``), observed
through glibc's own counters in a fresh interpreter (they are process-wide)."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, sys
from pipeline.worker.runtime import tune_malloc

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Mallinfo2
big = bytearray(8 << 20)  # mmapped; freeing it slides glibc's threshold up to 8 MiB
del big
print(tune_malloc(*map(int, sys.argv[1:])))
before = libc.mallinfo2().hblkhd
block = bytearray(6 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


def _probe(*args: int) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return out[0], int(out[1])


def _glibc() -> bool:
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _glibc(), reason="glibc's mallopt only")
def test_a_fixed_mmap_threshold_maps_blocks_glibc_would_take_from_its_heap():
    assert _probe(0, 0) == ("[]", 0)  # 0 = glibc's defaults: a 6 MiB block from the heap
    tuned, mapped = _probe(128 * 1024, 2)
    assert tuned == "['mmap_threshold=131072', 'trim_threshold=131072', 'arena_max=2']"
    assert mapped >= 6 << 20  # its own mapping, unmapped when freed
