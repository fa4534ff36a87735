"""The one place a record becomes what a sink writes: bytes for a topic, a row for Parquet,
spans for OTel. Redaction happens here, once, so no sink can forget it.

Every writer of user text goes through a :class:`RecordEncoder`: the worker's scored, metrics
and dead-letter sends, the Parquet rows of the worker (read back from the scored topic) and of
backfill, the dead letters of backfill and of the span assembler, and the OTel result export.
Before this module, each of them serialised on its own and backfill and the assembler wrote
unredacted text (issue 16, item 2).

What is redacted: every free-text part of a scored trace (tags, app, error, each result's
rationale/label/error/metadata; the scored message carries no inputs or outputs) and the raw
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

from pipeline.decode.dead_letter import dead_letter_for
from pipeline.decode.trace import DecodeError
from pipeline.redaction.redactor import Redactor
from pipeline.settings import DEFAULT_MAX_MESSAGE_BYTES, Settings
from pipeline.sinks.size import fit_scored, trim_text, value_budget
from schemas import MetricsRecord

if TYPE_CHECKING:  # the type only: ingest (the assembler) uses this module and knows no evaluator
    from pipeline.evaluate.scorer import ScoredRecord

RESULT_TEXT_FIELDS = ("rationale", "label", "error", "metadata")


class RecordEncoder:
    """Turns scored records, dead letters and windows into sink payloads, redacted."""

    def __init__(
        self, redactor: Redactor, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        self.redactor = redactor
        self.max_message_bytes = max_message_bytes

    @classmethod
    def create(cls, settings: Settings) -> RecordEncoder:
        """Wire from ``EVALSTREAM_REDACT``, ``EVALSTREAM_REDACT_PATTERNS`` and
        ``EVALSTREAM_MAX_MESSAGE_BYTES``."""
        return cls(
            Redactor.from_settings(
                settings.redact, extra_patterns=settings.redact_patterns or None
            ),
            settings.max_message_bytes,
        )

    def scored_row(self, record: ScoredRecord) -> dict[str, Any]:
        """The scored-traces message as a JSON-able dict: a Parquet row or a topic body."""
        message = record.to_message().model_dump(mode="json")
        if not self.redactor.enabled:
            return message
        for name in ("tags", "app", "error"):
            message[name] = self.redactor.redact(message[name])
        for result in message["results"]:
            for name in RESULT_TEXT_FIELDS:
                result[name] = self.redactor.redact(result[name])
        return message

    def scored(self, record: ScoredRecord) -> bytes:
        """The scored-traces topic value of one record (key: its trace id), long fields cut
        if it would not fit; raises ``TooLargeError`` if even that is not enough."""
        budget = value_budget(self.max_message_bytes, record.trace.trace_id.encode())
        return fit_scored(self.scored_row(record), budget)

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
