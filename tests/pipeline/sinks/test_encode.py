"""RecordEncoder: every payload a sink writes is redacted in this one place.

Each test plants an e-mail, a card number and an API key and checks none is written, and
that the same record with redaction off keeps them (so the check can fail).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from pipeline.decode.trace import DecodeError
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.redaction import Redactor
from pipeline.settings import load_settings
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.otel import result_span
from schemas import EvaluationResult, MetricsRecord, Trace

EMAIL, CARD, API_KEY = "jane.doe@example.com", "4111 1111 1111 1111", "sk-" + "aB3" * 16
PII = (EMAIL, CARD, API_KEY)
PLANTED = f"mail {EMAIL}, card {CARD}, key {API_KEY}"


def secrets_in(text: str) -> list[str]:
    return [secret for secret in PII if secret in text]


@pytest.fixture
def encoder() -> RecordEncoder:
    return RecordEncoder(Redactor.from_settings("all"))


@pytest.fixture
def plain() -> RecordEncoder:
    return RecordEncoder(Redactor.from_settings("none"))


@pytest.fixture
def record() -> ScoredRecord:
    trace = Trace(
        trace_id="t-1",
        timestamp=datetime(2026, 1, 5, 9, tzinfo=UTC),
        inputs={"question": PLANTED},
        outputs=PLANTED,
        status="ERROR",
        error=PLANTED,
        tags={"app": f"bot of {EMAIL}", "user": PLANTED},
    )
    result = EvaluationResult(
        evaluator="error",
        score=0.0,
        label=f"label {API_KEY}",
        rationale=PLANTED,
        error=PLANTED,
        metadata={"note": PLANTED, "nested": [PLANTED]},
    )
    return ScoredRecord(SourcedTrace(trace, "traces", 0, 7), [result], None)


def test_scored_value_and_parquet_row_are_redacted(encoder, plain, record):
    assert secrets_in(encoder.scored(record).decode()) == []
    assert secrets_in(orjson.dumps(encoder.scored_row(record)).decode()) == []
    assert "[REDACTED:email]" in encoder.scored(record).decode()
    assert secrets_in(plain.scored(record).decode()) == list(PII)


def test_scored_row_keeps_ids_and_numbers(encoder, record):
    row = encoder.scored_row(record)
    assert (row["trace_id"], row["status"], row["source"]["offset"]) == ("t-1", "ERROR", 7)
    assert row["results"][0]["score"] == 0.0


def test_dead_letter_raw_bytes_are_redacted(encoder, plain):
    raw = f'{{"broken": "{PLANTED}"'.encode()
    where = {"topic": "traces", "partition": 1, "offset": 9}
    body = encoder.dead_letter(DecodeError("bad json", "invalid_json"), raw, b"k", **where)
    letter = orjson.loads(body)
    kept = base64.b64decode(letter["raw_base64"]).decode()
    assert secrets_in(kept) == [] and secrets_in(body.decode()) == []
    assert "[REDACTED:credit_card]" in kept and letter["source_offset"] == 9
    unredacted = orjson.loads(plain.dead_letter(DecodeError("x", "y"), raw, None, **where))
    assert base64.b64decode(unredacted["raw_base64"]) == raw


def test_window_key_and_value_are_redacted(encoder, plain):
    window = MetricsRecord(
        window_start=datetime(2026, 1, 5, 9, tzinfo=UTC),
        window_end=datetime(2026, 1, 5, 9, 1, tzinfo=UTC),
        app=f"bot {EMAIL}",
        worker_id="w1",
        trace_count=3,
        error_count=1,
        error_rate=1 / 3,
    )
    key, value = encoder.window(window)
    assert secrets_in(key.decode() + value.decode()) == []
    assert orjson.loads(value)["trace_count"] == 3
    assert secrets_in(b"".join(plain.window(window)).decode()) == [EMAIL]


def test_otel_spans_carry_no_planted_text(encoder, plain, record):
    def exported(enc: RecordEncoder) -> bytes:
        (redacted,) = enc.for_otel([record])
        return b"".join(
            result_span(redacted.trace, result, 0).SerializeToString()
            for result in redacted.results
        )

    assert secrets_in(exported(encoder).decode("utf-8", "replace")) == []
    assert secrets_in(exported(plain).decode("utf-8", "replace")) == list(PII)
    assert record.results[0].rationale == PLANTED  # the caller's record is left alone


def test_create_wires_the_settings():
    on = RecordEncoder.create(load_settings(redact="email"))
    off = RecordEncoder.create(load_settings(redact="none"))
    assert on.redactor.enabled and not off.redactor.enabled


def test_trace_body_and_spans_are_redacted_but_ids_kept(encoder, plain):
    trace = Trace.model_validate(
        {
            "trace_id": "t-2",
            "timestamp": "2026-01-05T09:00:00Z",
            "inputs": {"q": PLANTED},
            "context": [PLANTED],
            "expectations": {"expected_response": PLANTED},
            "spans": [
                {
                    "span_id": "s-1",
                    "parent_id": "s-0",
                    "name": f"call {EMAIL}",
                    "inputs": PLANTED,
                    "outputs": {"a": PLANTED},
                    "attributes": {"user": PLANTED},
                    "app_extra": PLANTED,  # a field the span schema does not know
                    "start_time": "2026-01-05T09:00:00Z",
                }
            ],
        }
    )
    record = ScoredRecord(SourcedTrace(trace, "traces", 0, 8), [], None)
    row = encoder.scored_row(record)
    assert secrets_in(orjson.dumps(row).decode()) == []
    (span,) = row["body"]["spans"]
    assert (span["span_id"], span["parent_id"]) == ("s-1", "s-0")
    assert span["start_time"].startswith("2026-01-05T09:00:00")
    assert secrets_in(orjson.dumps(plain.scored_row(record)).decode()) == list(PII)
    no_body = RecordEncoder(Redactor.from_settings("all"), with_body=False).scored_row(record)
    assert no_body["body"] is None


def test_dead_letter_of_a_consumed_message(encoder):
    from pipeline.worker.testing import InputMessage

    message = InputMessage("traces", 2, 11, f"{{{PLANTED}".encode(), key=b"k")
    letter = orjson.loads(encoder.dead_letter_of(DecodeError("bad", "invalid_json"), message))
    assert (letter["source_partition"], letter["source_offset"]) == (2, 11)
    assert secrets_in(base64.b64decode(letter["raw_base64"]).decode()) == []


@pytest.mark.parametrize("field_limit", [64 * 1024, 40], ids=["fits whole", "fields cut"])
def test_the_scored_value_is_the_row_fitted_to_the_message(record, field_limit):
    """The one-dump path (a message within the field limit) and the cutting path give the
    same message as the Parquet row fitted to the budget (``fit_scored(scored_row(...))``)."""
    from pipeline.sinks.size import fit_scored, value_budget

    for redaction in ("all", "none"):
        enc = RecordEncoder(Redactor.from_settings(redaction), field_limit_bytes=field_limit)
        value = orjson.loads(enc.scored(record))
        budget = value_budget(enc.max_message_bytes, record.trace.trace_id.encode())
        expected = orjson.loads(fit_scored(enc.scored_row(record), budget))
        value.pop("scored_at", None), expected.pop("scored_at", None)
        assert value == expected
        whole = orjson.loads(orjson.dumps(enc._redacted(record)))  # nothing cut
        whole.pop("scored_at", None)
        assert (value != whole) == (field_limit == 40)  # both paths taken


@pytest.mark.parametrize("field_limit", [64 * 1024, 40], ids=["fits whole", "fields cut"])
def test_scored_message_is_the_json_of_its_bytes(record, field_limit):
    """The dict Parquet rows come from with EVALSTREAM_PARQUET_FROM=memory is exactly what a
    read of the topic decodes; None when fields were cut (the rows then decode the bytes)."""
    for redaction in ("all", "none"):
        enc = RecordEncoder(Redactor.from_settings(redaction), field_limit_bytes=field_limit)
        body, message = enc.scored_message(record)
        if field_limit == 40:
            assert message is None
        else:
            assert message == orjson.loads(body)
