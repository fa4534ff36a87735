"""Span targeting: an evaluator that runs once per matching span instead of once per trace.

    [evaluators.llm_safety]
    use = "safety"
    apply_to = { span_type = ["LLM"], name = "^chat" }

``apply_to`` picks spans by type (case-insensitive) and by a regular expression searched in
the span name; ``pick = "last"`` keeps only the matching span that ends last (the final
answer), ``pick = "first"`` the one that starts first. A trace with more matching spans than
``max_spans`` (``[defaults] max_spans_per_trace`` when not set) has the first ones evaluated
and gets one error result labelled ``span_limit_exceeded`` saying how many were left out.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from schemas import Span, Trace, TraceStatus, Usage

APPLY_TO_KEYS = ("span_type", "name", "pick", "max_spans")
DEFAULT_MAX_SPANS = 100
"""Spans a span-targeted evaluator runs on per trace unless the config says otherwise."""


class SpanTarget(BaseModel):
    """Which spans of a trace an evaluator runs on (the TOML ``apply_to`` table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span_type: list[str] | None = Field(
        default=None, description="Span types to run on (LLM, TOOL, RETRIEVER, ...); any if unset."
    )
    name: str | None = Field(
        default=None, description="Regular expression searched in the span name."
    )
    pick: Literal["all", "first", "last"] = Field(
        default="all", description="Every matching span, or only the first / last one."
    )
    max_spans: int | None = Field(
        default=None, ge=1, description="Most spans evaluated per trace; else the default cap."
    )
    _types: frozenset[str] | None = PrivateAttr(default=None)
    _pattern: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """Name the allowed keys, so a typo (``spantype``) is a one-line fix."""
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(APPLY_TO_KEYS))
            if unknown:
                raise ValueError(
                    f"unknown key {', '.join(map(repr, unknown))} (apply_to takes"
                    f" {', '.join(APPLY_TO_KEYS)})"
                )
        return data

    @field_validator("span_type", mode="before")
    @classmethod
    def _types_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    def model_post_init(self, context: Any) -> None:
        if self.span_type is not None:
            self._types = frozenset(t.upper() for t in self.span_type)
        self._pattern = re.compile(self.name) if self.name is not None else None

    def matches(self, span: Span) -> bool:
        return _matches(span, self._types, self._pattern)

    def select(self, trace: Trace) -> list[tuple[Span, str]]:
        """The matching spans with their ids, in trace order (``pick`` applied).

        A span without an id is named ``span-<index>`` (its place in the list), as in the
        ``spans`` dataset, so its results still join to its row there.
        """
        types, pattern = self._types, self._pattern  # private attributes: read once per trace
        found = [
            (span, span.span_id or f"span-{index}")
            for index, span in enumerate(trace.spans or [])
            if _matches(span, types, pattern)
        ]
        if self.pick == "all" or len(found) <= 1:
            return found
        if self.pick == "first":
            return [min(enumerate(found), key=lambda item: _start_key(item[1][0], item[0]))[1]]
        return [max(enumerate(found), key=lambda item: _end_key(item[1][0], item[0]))[1]]


def _matches(span: Span, types: frozenset[str] | None, pattern: re.Pattern[str] | None) -> bool:
    if types is not None and (span.span_type or "").upper() not in types:
        return False
    return pattern is None or (span.name is not None and pattern.search(span.name) is not None)


def _start_key(span: Span, position: int) -> tuple[bool, float, int]:
    """Spans without a start time sort after timed ones; ties keep list order."""
    start = span.start_time
    return (start is None, start.timestamp() if start else 0.0, position)


def _end_key(span: Span, position: int) -> tuple[bool, float, int]:
    """The span that ends last (else starts last); untimed spans count by list position."""
    when = span.end_time or span.start_time
    return (when is not None, when.timestamp() if when else 0.0, position)


def span_duration_ms(span: Span) -> float | None:
    if span.start_time is None or span.end_time is None:
        return None
    duration = (span.end_time - span.start_time).total_seconds() * 1000
    return duration if duration >= 0 else None


_MODEL_KEYS = ("model", "llm.model_name", "gen_ai.response.model", "gen_ai.request.model")


def span_view(trace: Trace, span: Span) -> Trace:
    """The trace as a span-targeted class evaluator sees it: the span's inputs, outputs,
    duration (``latency_ms``), status, error, model and usage; the trace's id, tags, context,
    expectations and spans. Cost is not known per span (``None``).

    ``error``, ``model`` and ``usage`` are the span's own fields (an app's extra span keys)
    or attributes of those names (``model`` also under the OpenInference / GenAI keys)."""
    own = {**span.attributes, **span.model_extra} if span.model_extra else span.attributes
    model = next((own[k] for k in _MODEL_KEYS if own.get(k)), None)
    error = own.get("error")
    return trace.model_copy(
        update={
            "inputs": span.inputs,
            "outputs": span.outputs,
            "timestamp": span.start_time or trace.timestamp,
            "latency_ms": span_duration_ms(span),
            "status": span.status or trace.status,
            "error": None if error is None else str(error),
            "model": None if model is None else str(model),
            "usage": _usage(own.get("usage")),
            "cost_usd": None,
        }
    )


def _usage(value: Any) -> Usage | None:
    if value is None or isinstance(value, Usage):
        return value
    if isinstance(value, dict):
        try:
            return Usage.model_validate(value)
        except ValueError:
            return None
    return None


def span_status(trace: Trace, span: Span) -> TraceStatus:
    """What a status filter compares for a span target: the span's, else the trace's."""
    return span.status or trace.status
