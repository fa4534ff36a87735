"""A message that could not be decoded or validated, kept with the reason."""

from __future__ import annotations

from datetime import datetime

from schemas._base import Message

DEAD_LETTER_SCHEMA_VERSION = 2


class DeadLetter(Message):
    """``raw_base64`` holds the bytes received, so nothing is lost, unless the dead letter
    would exceed Kafka's message size: then it holds their first part and ``truncated`` is
    set, while ``raw_size`` and ``raw_sha256`` still describe the whole message, so it can be
    found again (by source offset) and checked. ``reason`` is never cut for size.

    Version 2 added ``raw_sha256`` and ``truncated`` (and ``source_key_base64`` may be cut
    the same way); version 1 letters read with them unset.
    """

    schema_version: int = DEAD_LETTER_SCHEMA_VERSION
    reason: str
    error_type: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_key_base64: str | None = None
    raw_base64: str
    raw_size: int
    raw_sha256: str | None = None
    truncated: bool = False
    received_at: datetime
