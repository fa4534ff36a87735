"""Evaluators that misbehave, for the process-pool tests (``test_process_pool.py``); the pool
processes import this module by name (``pool_fixtures:registry``) from the test's sys.path.

Each misbehaves only on traces tagged for it, so one batch mixes good and bad traces.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from evaluators import Evaluator, Registry, discover


class Boom(Evaluator):
    name = "boom"

    def evaluate(self, trace: Any) -> Any:
        if trace.tags.get("boom"):
            raise RuntimeError("boom on purpose")
        return 1.0


class Sleepy(Evaluator):
    """Hangs (60 s) on traces tagged ``hang``; else sleeps ``pause`` seconds per batch."""

    name = "sleepy"

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause

    def evaluate_batch(self, traces: Any) -> list[Any]:
        if any(t.tags.get("hang") for t in traces):
            time.sleep(60)
        time.sleep(self.pause)
        return [0.5 for _ in traces]


class Dies(Evaluator):
    """SIGKILLs its own process on traces tagged ``die``: always, or only while ``marker``
    does not exist yet (it creates it first), so the retry on a new process succeeds."""

    name = "dies"

    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def evaluate(self, trace: Any) -> Any:
        if trace.tags.get("die") and not (self.marker and Path(self.marker).exists()):
            if self.marker:
                Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return 0.25


class Pid(Evaluator):
    name = "pid"

    def evaluate(self, trace: Any) -> Any:
        return _pid_result()


def _pid_result() -> Any:
    from evaluators import Result

    return Result(score=1.0, metadata={"pid": os.getpid()})


def registry(allow: Any = None) -> Registry:
    """The installed evaluators plus the ones above."""
    found = discover(allow=allow)
    for cls in (Boom, Sleepy, Dies, Pid):
        found.register(cls)
    return found


def broken_registry(allow: Any = None) -> Registry:
    return Registry()  # builds nothing: the pool must say which evaluators are missing
