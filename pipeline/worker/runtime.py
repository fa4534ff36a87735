"""Process-wide settings of the Python runtime for a worker process (issue 20)."""

from __future__ import annotations

import ctypes
import gc
import logging

log = logging.getLogger(__name__)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt (malloc.h)

YOUNG_GENERATION_THRESHOLD = 50_000
"""Allocations (minus deallocations) of container objects between two collections of the
youngest generation; CPython's default is 700. Every trace allocates hundreds of short-lived
objects (faust events, pydantic models, dicts), so the default collected the young
generation every few traces."""


def preload_lazy_imports() -> None:
    """Import now what the worker would otherwise import in the middle of its first batches.

    pyarrow imports pandas the first time it converts a Python list (its pandas shim checks
    whether the list is a pandas object): in the worker, the first Parquet flush. That was
    0.36-0.6 s of CPU holding the GIL while scoring went on (5.4 % of a 12 s profile of the
    operational set, issue 20), and the ~35,000 objects it creates came after
    ``tune_garbage_collector``'s freeze, so every full collection walked them. Called before
    the freeze.
    """
    import pyarrow as pa

    pa.array([0])


def tune_garbage_collector() -> None:
    """Freeze what start-up allocated and collect the young generation less often.

    ``gc.freeze()`` moves every object alive now (modules, the evaluators' models, faust's
    services: ~10^5 objects) to a permanent generation that collections no longer scan. With
    the threshold above, the in-process pipeline of the operational evaluators (decode,
    score, encode, Parquet rows) took 15-28 % less CPU per trace (146-170 vs 197-204 µs,
    measured for issue 20). Memory is still reclaimed: reference counting frees nearly
    everything at once; only reference cycles wait for a collection, now after 50,000
    allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 100)


def tune_malloc(mmap_threshold_bytes: int, arena_max: int) -> list[str]:
    """glibc malloc parameters of the worker (``mallopt``; another C library, or ``0``:
    left as they are). Returns the ones set, e.g. ``["arena_max=2"]``.

    ``mmap_threshold_bytes``: every allocation this large gets its own mmap. glibc starts at
    128 KiB but raises the threshold to the size of each large block freed (up to 32 MiB),
    after which fetch buffers, record batches, arrays and Parquet pages of a few hundred KiB
    to a few MiB come from the heap instead: freed, they leave holes among the long-lived
    objects that glibc keeps but cannot give back. Fixed (which stops the sliding), they go
    back to the system on ``free``; the trim threshold (free memory at the top of the heap
    given back), which slides with it, is set back to the same value, glibc's start.

    ``arena_max``: glibc gives threads up to 8 heaps per core; the worker's threads (the
    evaluators' executor, faust's consumer thread, onnxruntime's and the tokenizer's) each
    fill one and keep its free pages. With both, at the end of 20,000 bench traces the
    default set's worker held 152 MB of glibc heap (30 of it free) against 310 (111)
    without (docs/performance.md, "Memory of the default set").
    """
    try:
        libc = ctypes.CDLL("libc.so.6")  # not found (musl, macOS): nothing to tune
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl's mallopt does nothing)
    except (OSError, AttributeError):
        return []
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = []
    for name, param, value in (
        ("mmap_threshold", M_MMAP_THRESHOLD, mmap_threshold_bytes),
        ("trim_threshold", M_TRIM_THRESHOLD, mmap_threshold_bytes),
        ("arena_max", M_ARENA_MAX, arena_max),
    ):
        if value <= 0:
            continue
        if mallopt(param, value) == 1:
            done.append(f"{name}={value}")
        else:
            log.warning("mallopt(%s, %d) refused; left as it is", name, value)
    return done
