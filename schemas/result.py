"""The outcome of one evaluator on one trace (or one span of it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas._base import Message

RESULT_SCHEMA_VERSION = 1

NOT_APPLICABLE = "not_applicable"
"""Label of a result whose evaluator had nothing to judge (it returned ``None``)."""

SPAN_LIMIT_EXCEEDED = "span_limit_exceeded"
"""Label of the error result of a trace with more matching spans than a span-targeted
evaluator may run on (``apply_to.max_spans``); its metadata says how many matched."""


class ResultSource(StrEnum):
    CODE = "code"
    MODEL = "model"
    LLM_JUDGE = "llm_judge"


class EvaluationResult(Message):
    """Scores are in [0, 1], higher is better; ``passed`` is ``score >= threshold``.

    ``error`` is set (and ``score`` is null) when the evaluator raised or timed out.
    """

    schema_version: int = RESULT_SCHEMA_VERSION
    evaluator: str
    evaluator_version: str = "1"
    score: float | None = None
    passed: bool | None = None
    label: str | None = None
    rationale: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    source: ResultSource = ResultSource.CODE
    span_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
