"""The stream side of evalstream: ingest, the worker, its sinks, the tools and the CLI.

Where to look (the walk of one trace):

* it enters as spans through ``ingest/receiver`` (OTLP/HTTP) and becomes a trace in
  ``ingest/assembler``, or arrives as a trace on the input topic (``evalstream publish``,
  ``ingest/files``, the SDK in ``client``);
* the worker (``worker/app.py``, faust) hands each batch to ``worker/stages.py``, which
  decodes it (``decode/``: bad bytes become dead letters), scores it (``evaluate/scorer.py``,
  by ``evaluators.runner``) and aggregates time windows (``evaluate/windows.py``);
* it is written by ``sinks/`` (Parquet, the scored/metrics/DLQ topics in one Kafka
  transaction, OTel spans), redacted by ``redaction/`` first.

``kafka/`` holds client configs and the local broker; ``tools/`` the operations commands
(backfill, alerts, maintenance, report, demo); ``cli/`` the typer commands. Importing this
package loads nothing heavy: the names below are resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PipelineError": "pipeline.exceptions",
    "Settings": "pipeline.settings",
    "load_settings": "pipeline.settings",
    "Scorer": "pipeline.evaluate.scorer",
    "run_worker": "pipeline.worker.run",
    "run_evaluator": "pipeline.testing",
    "start_broker": "pipeline.kafka.broker",
    "stop_broker": "pipeline.kafka.broker",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
