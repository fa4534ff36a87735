"""Memory probe for a worker started by benchmarks/throughput.py --memprof DIR (not shipped).

On ``PYTHONPATH`` only for those runs. With ``EVALSTREAM_BENCH_MEMPROF=DIR`` a daemon thread
writes every ``EVALSTREAM_BENCH_MEMPROF_SECONDS`` (30) one report to ``DIR/<pid>-<n>.txt``:
VmRSS / VmHWM, anonymous vs file RSS (smaps_rollup), glibc malloc (mallinfo2: in use, free but
kept, mmapped) and pyarrow's pool. With ``EVALSTREAM_BENCH_MEMPROF_FRAMES=N`` (> 0) it also
traces the Python heap (tracemalloc, N frames; from ``EVALSTREAM_BENCH_MEMPROF_START`` seconds
on, so only what is allocated after it is seen) and dumps a snapshot beside each report
(``benchmarks/memprof_top.py`` groups them).
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from proc_memory import kb, mallinfo  # this directory is on the worker's PYTHONPATH

_DIR = os.environ.get("EVALSTREAM_BENCH_MEMPROF")


def _report(frames: int) -> str:
    mb = 2**20
    status = kb("/proc/self/status", "VmRSS", "VmHWM")
    rollup = kb("/proc/self/smaps_rollup", "Rss", "Anonymous")
    lines = [
        f"time {time.time():.1f} RSS {status['VmRSS']:.0f} HWM {status['VmHWM']:.0f}"
        f" anon {rollup['Anonymous']:.0f} file {rollup['Rss'] - rollup['Anonymous']:.0f} MB"
    ]
    info = mallinfo()
    if info is not None:
        lines.append(
            f"malloc in use {info.uordblks / mb:.1f} free-kept {info.fordblks / mb:.1f}"
            f" mmapped {info.hblkhd / mb:.1f} arena {info.arena / mb:.1f} MB"
        )
    lines.append(f"gc counts {gc.get_count()} frozen {gc.get_freeze_count()}")
    if os.environ.get("EVALSTREAM_BENCH_GC_COLLECT"):  # what-if: a full collection each report
        started = time.monotonic()
        found = gc.collect()
        after = kb("/proc/self/status", "VmRSS")["VmRSS"]
        lines.append(f"gc.collect() found {found} unreachable objects in"
                     f" {time.monotonic() - started:.2f}s; RSS after {after:.0f} MB")  # fmt: skip
    if "pyarrow" in sys.modules:
        pa = sys.modules["pyarrow"]
        lines.append(f"pyarrow pool {pa.total_allocated_bytes() / mb:.1f} MB"
                     f" ({pa.default_memory_pool().backend_name})")  # fmt: skip
    if frames and tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        lines.append(f"python heap {current / mb:.1f} MB (peak {peak / mb:.1f})")
    return "\n".join(lines) + "\n"


def _loop(out: Path, seconds: float, frames: int) -> None:
    n = 0
    trace_at = time.monotonic() + float(os.environ.get("EVALSTREAM_BENCH_MEMPROF_START", "0"))
    while True:
        if frames and not tracemalloc.is_tracing() and time.monotonic() >= trace_at:
            tracemalloc.start(frames)
        time.sleep(seconds)
        n += 1
        try:
            (out / f"{os.getpid()}-{n:03d}.txt").write_text(_report(frames))
            if frames and tracemalloc.is_tracing():  # grouped later: benchmarks/memprof_top.py
                tracemalloc.take_snapshot().dump(str(out / f"{os.getpid()}-{n:03d}.snapshot"))
        except Exception as exc:  # a probe never stops the worker
            (out / f"{os.getpid()}-{n:03d}.err").write_text(repr(exc))


def _trim_loop(seconds: float) -> None:
    libc = ctypes.CDLL("libc.so.6")
    while True:
        time.sleep(seconds)
        libc.malloc_trim(0)


if os.environ.get("EVALSTREAM_BENCH_MALLOC_TRIM_SECONDS"):  # what-if: glibc hands free pages back
    threading.Thread(
        target=_trim_loop,
        args=(float(os.environ["EVALSTREAM_BENCH_MALLOC_TRIM_SECONDS"]),),
        daemon=True,
        name="bench-malloc-trim",
    ).start()
if _DIR:
    _frames = int(os.environ.get("EVALSTREAM_BENCH_MEMPROF_FRAMES", "0"))
    _out = Path(_DIR)
    _out.mkdir(parents=True, exist_ok=True)
    threading.Thread(
        target=_loop,
        args=(_out, float(os.environ.get("EVALSTREAM_BENCH_MEMPROF_SECONDS", "30")), _frames),
        daemon=True,
        name="bench-memprof",
    ).start()
