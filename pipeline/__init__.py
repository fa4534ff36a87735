"""The stream side of evalstream: the worker, its sinks, the CLI and the local broker.

Where to look: a trace enters in ``worker.py`` (faust agent) and is decoded in ``decode.py``;
it is scored in ``scoring.py`` (by ``evaluators.runner``); it is written by
``sinks/parquet.py``, the worker's topic sends and ``metrics.py``; bad input goes out
through ``dead_letter.py``. Importing this package loads nothing heavy: the names below are
resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PipelineError": "pipeline.exceptions",
    "Settings": "pipeline.settings",
    "load_settings": "pipeline.settings",
    "Scorer": "pipeline.scoring",
    "run_worker": "pipeline.worker",
    "run_evaluator": "pipeline.testing",
    "start_broker": "pipeline.broker",
    "stop_broker": "pipeline.broker",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
