"""Consume the scored-traces topic and validate every message against its JSON Schema.

A downstream consumer needs none of evalstream's code: kafka-python, jsonschema and the
schema file (schemas/json/scored_trace.schema.json) are enough. This consumer commits its
offsets after handling a batch (at-least-once), so its own crash replays messages; the key
``(source.topic, source.partition, source.offset)`` identifies a scored trace, and a consumer
that writes somewhere should upsert by it.

    python examples/consume_scored.py --bootstrap 127.0.0.1:9092 --topic scored-traces \
        --group my-dashboard --max-messages 100
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from kafka import KafkaConsumer

DEFAULT_SCHEMA = Path(__file__).resolve().parents[1] / "schemas/json/scored_trace.schema.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--topic", default="scored-traces", help="scored-traces topic")
    parser.add_argument("--group", default="scored-consumer-example", help="consumer group")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="JSON Schema file")
    parser.add_argument("--max-messages", type=int, default=0, help="stop after N (0 = never)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        help="stop when no message came for this many seconds (0 = never)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final counts")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    validator = Draft202012Validator(
        json.loads(args.schema.read_text(encoding="utf-8")), format_checker=FormatChecker()
    )
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",  # a new group starts from the oldest scored trace
        enable_auto_commit=False,  # commit after handling: at-least-once
        # Workers write in Kafka transactions (EVALSTREAM_PROCESSING_GUARANTEE=exactly_once):
        # read_committed hides messages of aborted transactions.
        isolation_level="read_committed",
    )
    seen: set[tuple[str, int, int]] = set()
    counts = {"valid": 0, "invalid": 0, "duplicates": 0}
    idle_ms = int(args.idle_timeout * 1000) if args.idle_timeout else None
    try:
        while not args.max_messages or sum(counts.values()) < args.max_messages:
            batches = consumer.poll(timeout_ms=idle_ms or 1000)
            if not batches and idle_ms:
                break
            for records in batches.values():
                for record in records:
                    handle(record, validator, seen, counts, quiet=args.quiet)
            consumer.commit()
    finally:
        consumer.close()
    print(" ".join(f"{k} {v}" for k, v in counts.items()))
    return 1 if counts["invalid"] else 0


def handle(record, validator, seen: set, counts: dict, quiet: bool) -> None:
    """Validate one message; skip it when its idempotence key was already handled."""
    try:
        message = json.loads(record.value)
    except (TypeError, ValueError) as exc:
        counts["invalid"] += 1
        print(f"invalid p{record.partition}@{record.offset}: not JSON: {exc}", file=sys.stderr)
        return
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.path))
    if errors:
        counts["invalid"] += 1
        where = "/".join(map(str, errors[0].path)) or "(root)"
        print(
            f"invalid p{record.partition}@{record.offset}: {where}: {errors[0].message}",
            file=sys.stderr,
        )
        return
    source = message["source"]
    key = (source["topic"], source["partition"], source["offset"])
    if key in seen:  # a replay after a crash: already handled
        counts["duplicates"] += 1
        return
    seen.add(key)
    counts["valid"] += 1
    if not quiet:
        failed = [r["evaluator"] for r in message["results"] if r.get("passed") is False]
        print(
            f"{message['trace_id']} {message['app']} {message['status']}"
            f" failed={','.join(failed) or '-'}"
        )


if __name__ == "__main__":
    sys.exit(main())
