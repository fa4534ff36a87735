"""ScoredTraceConsumer: read evalstream's scores back as typed ``schemas.ScoredTrace`` models.

At least once, with the caller in charge of what "processed" means: a message counts as
processed when the caller asks for the next one (the body of its ``for`` loop finished without
raising). Processed offsets are committed every ``commit_every`` messages or
``commit_interval`` seconds, before a rebalance takes partitions away, on ``commit()`` and on
``close()``. A body that raises leaves its message uncommitted, so the group gets it again;
after a ``break`` call ``commit()`` if the last message counts as done.

    with ScoredTraceConsumer(group_id="alerts", failed_only=True) as consumer:
        for scored in consumer:                 # or: for batch in consumer.batches(): ...
            alert(scored.trace_id, [r.evaluator for r in scored.results])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from evalstream_client.kafka_config import consumer_config
from evalstream_client.settings import ClientSettings
from schemas import ScoredTrace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerStats:
    consumed: int  # messages read from Kafka
    yielded: int  # handed to the caller
    filtered: int  # valid, but no result passed the filters
    invalid: int  # not a ScoredTrace: skipped, logged, counted
    commits: int


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, owner: ScoredTraceConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner._commit_processed()

    def on_partitions_assigned(self, assigned: Any) -> None:
        pass


class ScoredTraceConsumer:
    """A consumer-group reader of the scored topic (``settings.scored_topic``)."""

    def __init__(
        self,
        settings: Any = None,  # ClientSettings, or a look-alike such as the worker's Settings
        *,
        group_id: str = "evalstream-sdk",
        topic: str | None = None,
        evaluators: str | Iterable[str] | None = None,
        failed_only: bool = False,
        idle_timeout: float | None = None,  # stop once caught up and idle this long
        commit_every: int = 100,
        commit_interval: float = 5.0,
        kafka_config: Mapping[str, Any] | None = None,
    ) -> None:
        s = ClientSettings.coerce(settings)
        self.topic = topic or s.scored_topic
        self.evaluators = {evaluators} if isinstance(evaluators, str) else evaluators
        self.evaluators = set(self.evaluators) if self.evaluators is not None else None
        self.failed_only = failed_only
        self.idle_timeout = idle_timeout
        self.commit_every = commit_every
        self.commit_interval = commit_interval
        self._consumer = KafkaConsumer(**consumer_config(s, group_id, **dict(kafka_config or {})))
        self._consumer.subscribe([self.topic], listener=_CommitOnRevoke(self))
        self._processed: dict[TopicPartition, int] = {}  # next offset to commit
        self._current: list[tuple[TopicPartition, int]] = []  # handed out, not yet done
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._counts = dict.fromkeys(("consumed", "yielded", "filtered", "invalid", "commits"), 0)

    def __iter__(self) -> Iterator[ScoredTrace]:
        for batch in self._polls():
            for tp, offset, scored in batch:
                if scored is not None:
                    self._current = [(tp, offset)]
                    yield scored
                self._done(tp, offset)  # after a yield: only once the caller asks for more

    def batches(self, max_records: int = 500) -> Iterator[list[ScoredTrace]]:
        """Lists of up to ``max_records``; a batch is done when the next one is requested."""
        for batch in self._polls(max_records):
            self._current = [(tp, offset) for tp, offset, _ in batch]  # what commit() covers
            wanted = [scored for _, _, scored in batch if scored is not None]
            if wanted:
                yield wanted
            for tp, offset, _ in batch:
                self._done(tp, offset)

    def commit(self) -> None:
        """Commit everything handed out so far, including the current message or batch."""
        for tp, offset in self._current:
            self._done(tp, offset, commit=False)
        self._commit_processed()

    def stats(self) -> ConsumerStats:
        return ConsumerStats(**self._counts)

    def close(self) -> None:
        """Commit what is processed (not the message a failing body was working on)."""
        try:
            self._commit_processed()
        finally:
            self._consumer.close(autocommit=False)

    def __enter__(self) -> ScoredTraceConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------

    def _polls(
        self, max_records: int | None = None
    ) -> Iterator[list[tuple[TopicPartition, int, ScoredTrace | None]]]:
        """Polled records in offset order; skipped ones (None) are marked done in order too,
        so a skipped message never gets committed ahead of an unprocessed one before it."""
        idle_since = time.monotonic()
        while True:
            polled = self._consumer.poll(timeout_ms=500, max_records=max_records)
            records = [record for batch in polled.values() for record in batch]
            if not records:
                self._maybe_commit(force=bool(self._uncommitted))
                if self.idle_timeout is None:
                    continue
                if time.monotonic() - idle_since >= self.idle_timeout:
                    if self._caught_up():
                        return
                    idle_since = time.monotonic()  # idle means caught up, not still joining
                continue
            idle_since = time.monotonic()
            batch = []
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                self._counts["consumed"] += 1
                scored = self._decode(record)
                self._counts["yielded"] += scored is not None
                batch.append((tp, record.offset, scored))
            yield batch

    def _caught_up(self) -> bool:
        """Assigned partitions exist and every one is read to its end offset."""
        assigned = list(self._consumer.assignment())
        if not assigned:
            return False
        try:
            ends = self._consumer.end_offsets(assigned)
            return all(self._consumer.position(tp) >= ends[tp] for tp in assigned)
        except KafkaError:
            return False

    def _decode(self, record: Any) -> ScoredTrace | None:
        try:
            scored = ScoredTrace.model_validate_json(record.value)
        except (ValidationError, ValueError, TypeError) as exc:
            self._counts["invalid"] += 1
            log.warning(
                "skipping invalid scored trace at %s-%d@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                str(exc).splitlines()[0],
            )
            return None
        if self.evaluators is None and not self.failed_only:
            return scored
        results = [
            r
            for r in scored.results
            if (self.evaluators is None or r.evaluator in self.evaluators)
            and (not self.failed_only or r.passed is False)
        ]
        if not results:
            self._counts["filtered"] += 1
            return None
        return scored.model_copy(update={"results": results})

    def _done(self, tp: TopicPartition, offset: int, commit: bool = True) -> None:
        if self._processed.get(tp, -1) <= offset:
            self._processed[tp] = offset + 1
            self._uncommitted += 1
        if commit:
            self._maybe_commit()

    def _maybe_commit(self, force: bool = False) -> None:
        due = time.monotonic() - self._last_commit >= self.commit_interval
        if self._uncommitted and (force or due or self._uncommitted >= self.commit_every):
            self._commit_processed()

    def _commit_processed(self) -> None:
        if not self._processed:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._processed.items()}
        try:
            self._consumer.commit(offsets)
            self._counts["commits"] += 1
        except (CommitFailedError, KafkaError) as exc:  # e.g. the partitions moved elsewhere
            log.warning(
                "commit of %d partitions failed (%s); they will be re-read", len(offsets), exc
            )
        self._processed.clear()
        self._uncommitted = 0
        self._last_commit = time.monotonic()
