"""Build the dead-letter record of a message the worker could not decode (or write)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from pipeline.decode.trace import DecodeError
from schemas import DeadLetter

KEEP_KEY_BYTES = 1024  # of a truncated letter's source key: enough to recognise it


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dead_letter_for(
    error: DecodeError,
    raw: bytes | None,
    key: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    stored: bytes | None = None,
    max_bytes: int | None = None,
) -> DeadLetter:
    """Keeps the bytes (base64) so the message can be fixed and replayed.

    ``stored`` is what to keep of ``raw`` (its redacted text; default ``raw`` itself);
    ``raw_size`` and ``raw_sha256`` always describe ``raw``, the bytes received. With
    ``max_bytes``, the letter's JSON stays within it: the stored bytes (and a long source
    key) are cut to fit and ``truncated`` is set; the reason is never cut.
    """
    raw = raw or b""
    stored = raw if stored is None else stored
    letter = DeadLetter(
        reason=error.reason,
        error_type=error.error_type,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        source_key_base64=_b64(key) if key is not None else None,
        raw_base64=_b64(stored),
        raw_size=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        received_at=datetime.now(tz=UTC),
    )
    if max_bytes is None or len(letter.model_dump_json()) <= max_bytes:
        return letter
    return _truncated(letter, stored, key, max_bytes)


def _truncated(letter: DeadLetter, stored: bytes, key: bytes | None, max_bytes: int) -> DeadLetter:
    """The largest prefix of the stored bytes that fits, base64 being 4 chars per 3 bytes."""
    short_key = _b64(key[:KEEP_KEY_BYTES]) if key is not None else None
    empty = letter.model_copy(
        update={"raw_base64": "", "source_key_base64": short_key, "truncated": True}
    )
    room = max_bytes - len(empty.model_dump_json())
    keep = max(0, room // 4 * 3)
    return empty.model_copy(update={"raw_base64": _b64(stored[:keep])})
