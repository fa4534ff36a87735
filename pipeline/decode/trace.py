"""Bytes from Kafka -> a validated ``Trace``, or a ``DecodeError`` that says why.

Every failure mode of untrusted input ends here as a ``DecodeError`` (never another
exception), so the worker can dead-letter the message and go on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from pipeline.decode.encoding import describe_undecodable
from pipeline.exceptions import PipelineError
from schemas import Trace

MAX_REASON = 500


class DecodeError(PipelineError):
    """The message is not a valid trace; ``reason`` is safe to show and store."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON]
        self.error_type = error_type


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def decode_trace(raw: bytes | None, kafka_timestamp_ms: int | None = None) -> Trace:
    """Parse and validate one message; a missing ``timestamp`` takes the Kafka record time."""
    if not raw:
        raise DecodeError("empty message (no value)", "empty")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise DecodeError(
                f"not valid JSON: {describe_undecodable(raw)}", "invalid_utf8"
            ) from None
        raise DecodeError(f"not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise DecodeError(f"expected a JSON object, got {type(data).__name__}", "not_an_object")
    if data.get("timestamp") is None and kafka_timestamp_ms is not None:
        data["timestamp"] = kafka_timestamp_ms
    try:
        trace = Trace.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(_summarise(exc), "validation") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"invalid trace: {exc}", "validation") from None
    if trace.timestamp is None:
        return trace.model_copy(update={"timestamp": datetime.now(tz=UTC)})
    return trace
