"""What the kernel and glibc say of this process's memory, for the memory benchmarks (not
shipped): ``/proc`` fields in MB and glibc's ``mallinfo2``. Used by the worker-side probe
(``sitecustomize.py``, this directory on the worker's ``PYTHONPATH``) and by
``benchmarks/memory_breakdown.py``."""

from __future__ import annotations

import ctypes
from pathlib import Path


class Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def mallinfo() -> Mallinfo2 | None:
    """glibc malloc over all arenas (``uordblks`` in use, ``fordblks`` free but kept,
    ``hblkhd`` mmapped, ``arena`` heap size, in bytes), or None outside glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = Mallinfo2
        return libc.mallinfo2()
    except (OSError, AttributeError):
        return None


def kb(path: str, *keys: str) -> dict[str, float]:
    """The ``keys`` of a ``/proc`` file of ``name: N kB`` lines, in MB."""
    values = {}
    for line in Path(path).read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in keys:
            values[name] = int(rest.split()[0]) / 1024
    return values
