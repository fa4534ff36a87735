"""What crosses the pipe: traces as the JSON of the ``Trace`` model, results as the JSON of
``EvaluationResult`` lists (one list per scored slot). Both round-trip exactly (a test checks
it on the sample traces), so a pool process scores the very trace the worker decoded."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from schemas import EvaluationResult, Trace

_RESULTS: TypeAdapter[list[list[EvaluationResult]]] = TypeAdapter(list[list[EvaluationResult]])


def trace_to_bytes(trace: Trace) -> bytes:
    return trace.__pydantic_serializer__.to_json(trace)


def trace_from_bytes(data: bytes) -> Trace:
    return Trace.model_validate_json(data)


def results_to_bytes(slots: Sequence[list[EvaluationResult] | None]) -> bytes:
    return _RESULTS.dump_json([slot or [] for slot in slots])


def results_from_bytes(data: bytes) -> list[list[EvaluationResult]]:
    return _RESULTS.validate_json(data)
