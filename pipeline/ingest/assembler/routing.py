"""Spans read from the wrong partition of the spans topic are sent to their home partition.

The assembler's table is partitioned like the spans topic, so every span of a trace must be
read from one partition: its *home*, the partition Kafka's default partitioner gives the trace
id in hex (murmur2 of the key, as the receiver, the SDK's exporter and the Java clients key
it). A producer that hashes the key differently (the OTel Collector's kafka exporter does)
would split a trace over partitions, and over workers. The assembler re-sends such spans, one
message per trace, keyed and partitioned the home way, and merges only spans that are home.
A re-send repeated after a crash is harmless: spans are deduplicated by span id.
"""

from __future__ import annotations

from kafka.partitioner.default import murmur2

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.receiver.codec import (
    JSON,
    PROTOBUF,
    encode_for_topic,
    parse_request,
    split_by_trace,
)


def home_partition(trace_id: str, partitions: int) -> int:
    """The partition of ``trace_id`` (hex) under Kafka's default partitioner."""
    return (murmur2(trace_id.encode()) & 0x7FFFFFFF) % partitions


def split_strays(raw: bytes, strays: set[str], encoding: str) -> dict[str, bytes]:
    """One spans-topic message per stray trace id, holding that trace's spans of ``raw``.

    Raises ``IngestError`` when ``raw`` cannot be split (the caller then merges the spans
    where they are, as before).
    """
    kind = JSON if raw.lstrip()[:1] == b"{" else PROTOBUF
    split = split_by_trace(parse_request(raw, kind))
    missing = strays - split.traces.keys()
    if missing:
        raise IngestError(f"cannot split the spans of {sorted(missing)[:3]} out of the message")
    return {trace: encode_for_topic(split.traces[trace], encoding) for trace in sorted(strays)}
