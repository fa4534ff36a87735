"""Typed, versioned message models of evalstream. Imports nothing else of ours.

A downstream consumer can ``pip install evalstream`` and use only this package.
"""

from schemas.datasets import (
    SPANS_COLUMNS,
    TRACES_COLUMNS,
    SpanRow,
    TraceRow,
    spans_arrow_schema,
    traces_arrow_schema,
)
from schemas.dead_letter import DeadLetter
from schemas.exceptions import SchemaError, TraceValidationError
from schemas.metrics import EvaluatorAggregate, MetricsRecord
from schemas.parquet import PARQUET_COLUMNS, PARTITION_COLUMNS, arrow_schema
from schemas.result import NOT_APPLICABLE, SPAN_LIMIT_EXCEEDED, EvaluationResult, ResultSource
from schemas.scored import ScoredTrace, SourceOffset
from schemas.session import (
    ClosedBy,
    ScoredSession,
    Session,
    SessionMetricsRecord,
    SessionRow,
    SessionTurn,
)
from schemas.trace import Expectations, Span, Trace, TraceStatus, Usage

__all__ = [
    "NOT_APPLICABLE",
    "PARQUET_COLUMNS",
    "PARTITION_COLUMNS",
    "SPANS_COLUMNS",
    "SPAN_LIMIT_EXCEEDED",
    "TRACES_COLUMNS",
    "ClosedBy",
    "DeadLetter",
    "EvaluationResult",
    "EvaluatorAggregate",
    "Expectations",
    "MetricsRecord",
    "ResultSource",
    "SchemaError",
    "ScoredSession",
    "ScoredTrace",
    "Session",
    "SessionMetricsRecord",
    "SessionRow",
    "SessionTurn",
    "SourceOffset",
    "Span",
    "SpanRow",
    "Trace",
    "TraceRow",
    "TraceStatus",
    "TraceValidationError",
    "Usage",
    "arrow_schema",
    "spans_arrow_schema",
    "traces_arrow_schema",
]
