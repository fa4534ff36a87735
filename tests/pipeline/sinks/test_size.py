"""Every value the encoder writes fits in one Kafka message (issue 16, item 1)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import orjson
import pytest

from pipeline.decode.trace import DecodeError
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.redaction import Redactor
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.size import MAX_FIELD_CHARS, TooLargeError, value_budget
from schemas import DeadLetter, EvaluationResult, MetricsRecord, ScoredTrace, Trace

LIMIT = 100_000
WHERE = {"topic": "traces", "partition": 2, "offset": 41}


@pytest.fixture
def encoder() -> RecordEncoder:
    return RecordEncoder(Redactor.from_settings("none"), max_message_bytes=LIMIT)


def scored_record(error: str = "boom", tags: dict[str, str] | None = None) -> ScoredRecord:
    trace = Trace(
        trace_id="t-big",
        timestamp=datetime(2026, 1, 5, 9, tzinfo=UTC),
        status="ERROR",
        error=error,
        tags=tags or {"app": "bot"},
    )
    result = EvaluationResult(
        evaluator="error", score=0.0, rationale=error, metadata={"echo": error}
    )
    return ScoredRecord(SourcedTrace(trace, "traces", 0, 7), [result], None)


@pytest.mark.parametrize("size", [0, 10, LIMIT // 2, LIMIT, 3 * LIMIT])
def test_dead_letter_fits_and_keeps_size_hash_and_a_prefix(encoder, size):
    raw = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    key = b"k" * 300
    body = encoder.dead_letter(DecodeError("not valid JSON", "invalid_json"), raw, key, **WHERE)
    assert len(body) <= value_budget(LIMIT, key)
    letter = DeadLetter.model_validate_json(body)
    kept = base64.b64decode(letter.raw_base64)
    assert raw.startswith(kept)
    assert letter.truncated == (kept != raw)
    assert (letter.raw_size, letter.raw_sha256) == (size, hashlib.sha256(raw).hexdigest())
    assert letter.reason == "not valid JSON" and letter.source_offset == 41
    if letter.truncated:  # a truncated letter uses most of its room
        assert len(body) > value_budget(LIMIT, key) - 8


def test_small_dead_letter_is_whole(encoder):
    letter = DeadLetter.model_validate_json(
        encoder.dead_letter(DecodeError("x", "y"), b"abc", b"k", **WHERE)
    )
    assert base64.b64decode(letter.raw_base64) == b"abc" and not letter.truncated
    assert base64.b64decode(letter.source_key_base64) == b"k"


def test_huge_source_key_is_cut_too(encoder):
    key = b"K" * (LIMIT // 2)
    body = encoder.dead_letter(DecodeError("x", "y"), b"v" * LIMIT, key, **WHERE)
    assert len(body) <= value_budget(LIMIT, key)
    letter = DeadLetter.model_validate_json(body)
    assert letter.truncated and key.startswith(base64.b64decode(letter.source_key_base64))


def test_scored_message_under_the_limit_is_unchanged(encoder):
    record = scored_record("e" * (MAX_FIELD_CHARS * 2))
    body = encoder.scored(record)
    assert orjson.loads(body)["error"] == "e" * (MAX_FIELD_CHARS * 2)


def test_too_large_scored_message_has_its_long_fields_cut_with_a_marker(encoder):
    record = scored_record("e" * LIMIT)
    body = encoder.scored(record)
    assert len(body) <= value_budget(LIMIT, b"t-big")
    message = ScoredTrace.model_validate_json(body)
    assert message.error.startswith("e" * MAX_FIELD_CHARS)
    assert message.error.endswith(f"[truncated {LIMIT - MAX_FIELD_CHARS} of {LIMIT} chars]")
    assert message.results[0].rationale == message.error
    assert "omitted" in message.results[0].metadata["truncated"]
    assert (message.trace_id, message.source.offset, message.status) == ("t-big", 7, "ERROR")


def test_scored_message_that_cannot_be_cut_enough_is_too_large(encoder):
    many_tags = {f"tag{i:06d}": "v" for i in range(LIMIT // 10)}
    with pytest.raises(TooLargeError) as caught:
        encoder.scored(scored_record(tags=many_tags))
    assert caught.value.error_type == "too_large"
    assert "EVALSTREAM_MAX_MESSAGE_BYTES" in caught.value.reason


def test_window_with_a_huge_app_name_fits(encoder):
    window = MetricsRecord(
        window_start=datetime(2026, 1, 5, 9, tzinfo=UTC),
        window_end=datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
        app="a" * LIMIT,
        worker_id="w1",
        trace_count=1,
        error_count=0,
        error_rate=0.0,
    )
    key, value = encoder.window(window)
    assert len(key) + len(value) <= LIMIT
    assert MetricsRecord.model_validate_json(value).app.startswith("a" * MAX_FIELD_CHARS)
