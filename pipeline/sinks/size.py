"""Every message the pipeline writes fits in one Kafka message (issue 16, item 1).

The broker accepts an input message of up to ~1 MB, but what we write about it can be larger:
a dead letter carries the raw bytes base64-encoded (4/3 of their size), and a scored message
carries whatever an evaluator or the trace put in its free-text fields. A message over the
producer's limit fails its send, and a failed send used to kill the worker with the input
offset already past the message: it was lost. So the budget is applied before sending:

- dead letters keep a prefix of the raw bytes (``truncated``; see ``dead_letter_for``);
- scored messages and window records over the budget get their long text fields cut to
  ``MAX_FIELD_CHARS`` with a marker; if that is not enough, the trace is dead-lettered with
  reason ``too_large`` (``TooLargeError``), never dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.decode.trace import DecodeError

RECORD_OVERHEAD = 512  # Kafka record and batch headers, with room to spare
MAX_FIELD_CHARS = 4096  # what a trimmed text field keeps
TRIMMED_MARKER = "…[truncated {dropped} of {total} chars]"
RESULT_TEXT = ("rationale", "label", "error")


class TooLargeError(DecodeError):
    """A trace's scored message exceeds the message size even with its long fields cut."""

    def __init__(self, size: int, budget: int) -> None:
        super().__init__(
            f"scored message is {size:,} bytes with long fields cut, over the"
            f" {budget:,}-byte budget (EVALSTREAM_MAX_MESSAGE_BYTES)",
            "too_large",
        )


def value_budget(max_message_bytes: int, key: bytes | None) -> int:
    """Bytes left for a message's value once its key and Kafka's headers are counted."""
    return max_message_bytes - RECORD_OVERHEAD - (len(key) if key else 0)


def trim_text(value: Any, limit: int = MAX_FIELD_CHARS) -> Any:
    """A string longer than ``limit`` cut to it, with a marker that says how much went."""
    if not isinstance(value, str) or len(value) <= limit:
        return value
    marker = TRIMMED_MARKER.format(dropped=len(value) - limit, total=len(value))
    return value[:limit] + marker


def _trim_metadata(metadata: Any) -> Any:
    size = len(orjson.dumps(metadata))
    if size <= MAX_FIELD_CHARS:
        return metadata
    return {"truncated": f"metadata of {size:,} bytes omitted: the message was too large"}


def trim_scored(message: dict[str, Any]) -> dict[str, Any]:
    """The scored message with every long free-text field cut (ids and numbers untouched)."""
    trimmed = dict(message)
    trimmed["app"] = trim_text(message["app"])
    trimmed["error"] = trim_text(message["error"])
    trimmed["tags"] = {trim_text(k): trim_text(v) for k, v in message["tags"].items()}
    trimmed["results"] = [
        {
            **result,
            **{name: trim_text(result[name]) for name in RESULT_TEXT},
            "metadata": _trim_metadata(result["metadata"]),
        }
        for result in message["results"]
    ]
    return trimmed


def fit_scored(message: dict[str, Any], budget: int) -> bytes:
    """The scored message's bytes within ``budget``, trimmed if needed."""
    body = orjson.dumps(message)
    if len(body) <= budget:
        return body
    body = orjson.dumps(trim_scored(message))
    if len(body) > budget:
        raise TooLargeError(len(body), budget)
    return body
