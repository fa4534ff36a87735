"""A message that could not be decoded or validated, kept with the reason."""

from __future__ import annotations

from datetime import datetime

from schemas._base import Message

DEAD_LETTER_SCHEMA_VERSION = 1


class DeadLetter(Message):
    """``raw_base64`` holds the exact bytes received, so nothing is lost."""

    schema_version: int = DEAD_LETTER_SCHEMA_VERSION
    reason: str
    error_type: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_key_base64: str | None = None
    raw_base64: str
    raw_size: int
    received_at: datetime
