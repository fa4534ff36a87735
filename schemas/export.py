"""Export JSON Schema files so consumers in any language can validate our messages.

Run ``python -m schemas.export`` after changing a model; a test fails when the files drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.datasets import SpanRow, TraceRow
from schemas.dead_letter import DeadLetter
from schemas.metrics import MetricsRecord
from schemas.result import EvaluationResult
from schemas.scored import ScoredTrace
from schemas.session import ScoredSession, SessionMetricsRecord, SessionRow
from schemas.trace import Trace

EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "trace": Trace,
    "evaluation_result": EvaluationResult,
    "scored_trace": ScoredTrace,
    "metrics_record": MetricsRecord,
    "dead_letter": DeadLetter,
    "trace_row": TraceRow,
    "span_row": SpanRow,
    "scored_session": ScoredSession,
    "session_metrics_record": SessionMetricsRecord,
    "session_row": SessionRow,
}

SCHEMA_DIR = Path(__file__).resolve().parent / "json"


def render(model: type[BaseModel]) -> str:
    """The JSON Schema text of a model, stable across runs."""
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://evalstream.dev/schemas/{model.__name__}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED_MODELS.items():
        path = directory / f"{name}.schema.json"
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        sys.stdout.write(f"wrote {path}\n")
