"""The one place a record becomes what a sink writes: bytes for a topic, a row for Parquet,
spans for OTel. Redaction happens here, once, so no sink can forget it.

Every writer of user text goes through a :class:`RecordEncoder`: the worker's scored, metrics
and dead-letter sends, the Parquet rows of the worker (read back from the scored topic) and of
backfill, the dead letters of backfill and of the span assembler, and the OTel result export.
Before this module, each of them serialised on its own and backfill and the assembler wrote
unredacted text (issue 16, item 2).

What is redacted: every free-text part of a scored trace (tags, app, error, each result's
rationale/label/error/metadata; the trace body's inputs, outputs, context and expectations,
and every span field but its ids, times and status) and the raw
bytes of a dead letter (decoded as UTF-8 with replacement, so a dead letter keeps the redacted
text, not the exact bytes). Ids, numbers and timestamps stay as they are. A window record's
only text is its app name, redacted like the scored message's (and so is its key).

Every topic value also fits in one Kafka message of ``EVALSTREAM_MAX_MESSAGE_BYTES`` (see
``pipeline.sinks.size``): redaction first, then the size budget, so a pattern is never cut
in half before it is redacted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from pipeline.decode.dead_letter import dead_letter_for
from pipeline.decode.trace import DecodeError
from pipeline.redaction.redactor import Redactor
from pipeline.settings import DEFAULT_MAX_MESSAGE_BYTES, Settings
from pipeline.sinks.rows import clip_value
from pipeline.sinks.size import fit_scored, trim_text, value_budget
from schemas import MetricsRecord
from schemas.datasets import DEFAULT_FIELD_LIMIT_BYTES

if TYPE_CHECKING:  # the type only: ingest (the assembler) uses this module and knows no evaluator
    from pipeline.evaluate.scorer import ScoredRecord

RESULT_TEXT_FIELDS = ("rationale", "label", "error", "metadata")
BODY_TEXT_FIELDS = ("inputs", "outputs", "context", "expectations")
SPAN_KEPT_FIELDS = frozenset(("span_id", "parent_id", "start_time", "end_time", "status"))
"""Span fields kept as they are (redacting an id would break the tree); every other field of a
span is redacted (an app's own span fields are in its attributes, see ``scorer.trace_body``)."""
SPAN_BIG_FIELDS = ("inputs", "outputs", "attributes")
"""Body and span values cut (after redaction) to the field limit already in the scored message,
so a huge trace never makes the message too large; ``sinks.rows`` marks them as cut."""


class RecordEncoder:
    """Turns scored records, dead letters and windows into sink payloads, redacted."""

    def __init__(
        self,
        redactor: Redactor,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        *,
        with_body: bool = True,
        field_limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES,
    ) -> None:
        self.redactor = redactor
        self.max_message_bytes = max_message_bytes
        self.with_body = with_body
        self.field_limit_bytes = field_limit_bytes

    @classmethod
    def create(cls, settings: Settings) -> RecordEncoder:
        """Wire from ``EVALSTREAM_REDACT``, ``EVALSTREAM_REDACT_PATTERNS`` and
        ``EVALSTREAM_MAX_MESSAGE_BYTES``, ``EVALSTREAM_STORE_TRACES`` (without it, scored messages
        carry no trace body) and ``EVALSTREAM_FIELD_LIMIT_BYTES``."""
        redactor = Redactor.from_settings(
            settings.redact, extra_patterns=settings.redact_patterns or None
        )
        return cls(
            redactor,
            settings.max_message_bytes,
            with_body=settings.store_traces,
            field_limit_bytes=settings.field_limit_bytes,
        )

    def scored_row(self, record: ScoredRecord) -> dict[str, Any]:
        """The scored-traces message as a JSON-able dict: a Parquet row or a topic body."""
        message = self._redacted(record)
        self._clip_body(message)
        return message

    def _redacted(self, record: ScoredRecord) -> dict[str, Any]:
        """The message, redacted, its body's big fields not yet cut to the field limit."""
        message = record.to_message().model_dump(mode="json")
        if not self.with_body:
            message["body"] = None
        if self.redactor.enabled:
            self._redact(message)
        return message

    def _clip_body(self, message: dict[str, Any]) -> None:
        body = message["body"]
        if body is not None:
            limit = self.field_limit_bytes
            for name in BODY_TEXT_FIELDS:
                body[name] = clip_value(body[name], limit)
            for span in body["spans"]:
                for name in SPAN_BIG_FIELDS:
                    span[name] = clip_value(span.get(name), limit)

    def _redact(self, message: dict[str, Any]) -> None:
        for name in ("tags", "app", "error"):
            message[name] = self.redactor.redact(message[name])
        for result in message["results"]:
            for name in RESULT_TEXT_FIELDS:
                result[name] = self.redactor.redact(result[name])
        body = message["body"]
        if body is not None:
            self._redact_fields(body, BODY_TEXT_FIELDS)
            for span in body["spans"]:
                self._redact_fields(span, [k for k in span if k not in SPAN_KEPT_FIELDS])

    def _redact_fields(self, item: dict[str, Any], names: Sequence[str]) -> None:
        for name in names:
            if name in item:
                item[name] = self.redactor.redact(item[name])

    def scored(self, record: ScoredRecord) -> bytes:
        """The scored-traces topic value of one record (key: its trace id), long fields cut
        if it would not fit; raises ``TooLargeError`` if even that is not enough."""
        return self.scored_message(record)[0]

    def scored_message(self, record: ScoredRecord) -> tuple[bytes, dict[str, Any] | None]:
        """``scored``, and the message those bytes are the JSON of when it was written as it
        is (the usual case); ``None`` when fields were cut to fit (decode the bytes then).
        The Parquet rows of ``EVALSTREAM_PARQUET_FROM=memory`` come from it."""
        budget = value_budget(self.max_message_bytes, record.trace.trace_id.encode())
        message = self._redacted(record)
        # A whole message within the field limit has no field over it: nothing to cut, and
        # these are the bytes ``fit_scored`` would write (the usual case: one dump, not one
        # per body field as well).
        whole = _dumps_within(message, min(budget, self.field_limit_bytes))
        if whole is not None:
            return whole, message
        self._clip_body(message)
        return fit_scored(message, budget), None

    def dead_letter(
        self,
        error: DecodeError,
        raw: bytes | None,
        key: bytes | None,
        *,
        topic: str,
        partition: int,
        offset: int,
    ) -> bytes:
        """The dead-letter topic value (sent with ``key``) of a message that could not be
        used; its raw bytes are cut if the letter would not fit in one message."""
        record = dead_letter_for(
            error,
            raw,
            key,
            topic=topic,
            partition=partition,
            offset=offset,
            stored=self._redact_raw(raw),
            max_bytes=value_budget(self.max_message_bytes, key),
        )
        return record.model_dump_json().encode()

    def dead_letter_of(self, error: DecodeError, message: Any) -> bytes:
        """The dead letter of a consumed message (anything with value, key, topic,
        partition and offset, such as faust's ``event.message``)."""
        return self.dead_letter(
            error,
            message.value,
            message.key,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )

    def window(self, record: MetricsRecord) -> tuple[bytes, bytes]:
        """The metrics topic key and value of one window."""
        if self.redactor.enabled:
            record = record.model_copy(update={"app": self.redactor.redact(record.app)})
        key, value = record.key.encode(), record.model_dump_json().encode()
        if len(value) <= value_budget(self.max_message_bytes, key):
            return key, value
        record = record.model_copy(update={"app": trim_text(record.app)})
        return record.key.encode(), record.model_dump_json().encode()

    def for_otel(self, records: Sequence[ScoredRecord]) -> list[ScoredRecord]:
        """The records an OTel exporter may see: the trace's tags (its app name) and every
        result's free text redacted."""
        if not self.redactor.enabled:
            return list(records)
        redacted = []
        for record in records:
            trace = record.trace.model_copy(
                update={"tags": self.redactor.redact(record.trace.tags)}
            )
            results = [x.model_copy(update=self._redact_result(x)) for x in record.results]
            redacted.append(
                replace(record, source=replace(record.source, trace=trace), results=results)
            )
        return redacted

    def _redact_result(self, result: Any) -> dict[str, Any]:
        return {f: self.redactor.redact(getattr(result, f)) for f in RESULT_TEXT_FIELDS}

    def _redact_raw(self, raw: bytes | None) -> bytes | None:
        if raw is None or not self.redactor.enabled:
            return raw
        return self.redactor.redact(raw.decode("utf-8", "replace")).encode()


def _dumps_within(message: dict[str, Any], limit: int) -> bytes | None:
    """The message's JSON if it is at most ``limit`` bytes; None if longer or if it holds a
    value orjson cannot write as it is (``clip_value`` may replace such a value)."""
    try:
        body = orjson.dumps(message)
    except TypeError:
        return None
    return body if len(body) <= limit else None
