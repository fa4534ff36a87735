"""The stream worker: the faust app and its agents (``app``), the process that runs it
(``run``), the per-batch stages (``stages``: decode -> score -> write).

``run_worker`` is resolved on first use so that importing the package loads no faust.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_worker"]


def __getattr__(name: str) -> Any:
    if name == "run_worker":
        from pipeline.worker.run import run_worker

        return run_worker
    raise AttributeError(f"module 'pipeline.worker' has no attribute {name!r}")
