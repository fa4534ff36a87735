"""Build the dead-letter record of a message the worker could not decode."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pipeline.decode.trace import DecodeError
from schemas import DeadLetter


def dead_letter_for(
    error: DecodeError,
    raw: bytes | None,
    key: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
) -> DeadLetter:
    """Keeps the exact bytes (base64) so the message can be fixed and replayed."""
    raw = raw or b""
    return DeadLetter(
        reason=error.reason,
        error_type=error.error_type,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key_base64=base64.b64encode(key).decode("ascii") if key is not None else None,
        raw_base64=base64.b64encode(raw).decode("ascii"),
        raw_size=len(raw),
        received_at=datetime.now(tz=UTC),
    )
