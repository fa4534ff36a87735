"""`evalstream backfill` through a real broker: offset and time ranges, re-runs that change
nothing, JSONL files, evaluator subsets, and one-line errors."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from kafka import KafkaProducer
from kafka_helpers import consume_all
from typer.testing import CliRunner

from pipeline.cli.backfill import backfill_command
from pipeline.tools.demo.samples import sample_traces
from schemas import arrow_schema

cli = typer.Typer()
cli.command()(backfill_command)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SUBSET = ["--evaluators", "latency,error"]


@pytest.fixture
def env(kafka_bootstrap):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    return clean | {"EVALSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap}


def publish(bootstrap: str, topic: str, values: list[bytes], partition: int = 0) -> None:
    """One partition, Kafka record times T0 + i seconds (what --start-time searches)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i, value in enumerate(values):
        stamp = int((T0 + timedelta(seconds=i)).timestamp() * 1000)
        producer.send(topic, value, partition=partition, timestamp_ms=stamp)
    producer.flush(timeout=30)
    producer.close()


def backfill(env, *args):
    return CliRunner().invoke(cli, list(args), env=env)


def frame(root) -> pd.DataFrame:
    return pd.read_parquet(root)


@pytest.fixture
def topic_with_traces(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=2)
    traces = [orjson.dumps(t) for t in sample_traces(80, seed=3)]
    publish(kafka_bootstrap, topic, [*traces[:40], b"{broken", *traces[40:60]], partition=0)
    publish(kafka_bootstrap, topic, traces[60:], partition=1)
    return topic


def test_offset_range_twice_gives_the_same_files_and_rows(env, topic_with_traces, tmp_path):
    root = tmp_path / "bf"
    args = ["--from-topic", topic_with_traces, "--start-offset", "10", "--parquet-dir", str(root)]
    first = backfill(env, *args, *SUBSET, "--chunk-size", "25")
    assert first.exit_code == 0, first.output
    # p0: offsets 10..60 (51 messages, one broken); p1: 10..19 (10)
    assert "read 61, scored 60, bad 1" in first.stdout
    assert f"{topic_with_traces}/p0/o40: not valid JSON" in first.stderr
    files = sorted(p.relative_to(root) for p in root.rglob("*.parquet"))
    names = sorted(p.name for p in files)
    assert names == [
        f"backfill-{topic_with_traces}-p0-o000000000010-000000000024.parquet",
        f"backfill-{topic_with_traces}-p0-o000000000025-000000000049.parquet",
        f"backfill-{topic_with_traces}-p0-o000000000050-000000000060.parquet",
        f"backfill-{topic_with_traces}-p1-o000000000010-000000000019.parquet",
    ]
    rows = frame(root)
    assert len(rows) == 60 * 2 and set(rows["evaluator"]) == {"latency", "error"}
    assert not rows.duplicated(["trace_id", "evaluator"]).any()
    assert rows.groupby("kafka_partition")["kafka_offset"].min().to_dict() == {0: 10, 1: 10}
    schema = pq.read_schema(root / files[0])
    assert schema.names == arrow_schema().names
    assert [f.type for f in schema] == [f.type for f in arrow_schema()]

    again = backfill(env, *args, *SUBSET, "--chunk-size", "25")
    assert again.exit_code == 0, again.output
    assert sorted(p.relative_to(root) for p in root.rglob("*.parquet")) == files
    key = ["trace_id", "evaluator"]

    def stable(f):  # eval_latency_ms is how long the evaluator took: wall clock
        return f.drop(columns="eval_latency_ms").sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(stable(frame(root)), stable(rows))


def test_time_range_and_evaluator_subset(env, topic_with_traces, tmp_path):
    root = tmp_path / "bf"
    result = backfill(
        env,
        *["--from-topic", topic_with_traces, "--parquet-dir", str(root)],
        *["--start-time", (T0 + timedelta(seconds=5)).isoformat()],
        *["--end-time", (T0 + timedelta(seconds=15)).isoformat()],
        *["--evaluators", "token_usage"],
    )
    assert result.exit_code == 0, result.output
    rows = frame(root)
    assert set(rows["evaluator"]) == {"token_usage"}
    # record times T0+5s .. T0+14s on both partitions
    offsets = rows.groupby("kafka_partition")["kafka_offset"].agg(["min", "max", "count"])
    assert offsets.to_dict("index") == {
        0: {"min": 5, "max": 14, "count": 10},
        1: {"min": 5, "max": 14, "count": 10},
    }


def test_wider_rerun_replaces_files_it_covers(env, topic_with_traces, tmp_path):
    root = tmp_path / "bf"
    base = ["--from-topic", topic_with_traces, "--parquet-dir", str(root), *SUBSET]
    assert backfill(env, *base, "--start-offset", "30").exit_code == 0
    wider = backfill(env, *base)
    assert wider.exit_code == 0, wider.output
    assert "replaced 1 older files" in wider.stdout
    rows = frame(root)
    assert len(rows) == 80 * 2 and not rows.duplicated(["trace_id", "evaluator"]).any()
    # The traces dataset beside the results is written (and replaced) the same way, so the
    # UI and `trace show` find the content of backfilled traces (issue 17).
    traces = frame(root.parent / "traces")
    assert len(traces) == 80 and not traces.duplicated(["trace_id"]).any()
    assert traces.inputs_json.notna().all()


def test_jsonl_file(env, tmp_path):
    source = tmp_path / "old-traces.jsonl"
    lines = [orjson.dumps(t) for t in sample_traces(30, seed=9)]
    source.write_bytes(b"\n".join([*lines[:10], b"", b"[1, 2]", *lines[10:]]) + b"\n")
    root = tmp_path / "bf"
    args = ["--from-files", str(source), "--parquet-dir", str(root), *SUBSET]
    result = backfill(env, *args)
    assert result.exit_code == 0, result.output
    assert "read 31, scored 30, bad 1" in result.stdout
    assert "old-traces.jsonl:12: expected a JSON object" in result.stderr
    rows = frame(root)
    assert len(rows) == 60 and set(rows["kafka_topic"]) == {"file:old-traces.jsonl"}
    assert backfill(env, *args).exit_code == 0
    assert len(frame(root)) == 60
    (name,) = {p.name for p in root.rglob("*.parquet")}
    assert name.startswith("backfill-old-traces-")
    assert name.endswith("-p0-o000000000001-000000000032.parquet")


def test_redaction_covers_backfill_parquet_and_dead_letters(
    env, kafka_bootstrap, new_topic, tmp_path
):
    """Backfill writes through the same encoder as the worker: nothing planted gets out."""
    email, card, key = "jane.doe@example.com", "4111 1111 1111 1111", "sk-" + "aB3" * 16
    planted = f"mail {email}, card {card}, key {key}"
    topic, dlq = new_topic(), new_topic()
    traces = [
        {"trace_id": f"b-{i}", "status": "ERROR", "error": planted, "tags": {"user": planted}}
        for i in range(5)
    ]
    publish(kafka_bootstrap, topic, [*map(orjson.dumps, traces), f'{{"x": "{planted}"'.encode()])
    root = tmp_path / "bf"
    redacting = env | {"EVALSTREAM_REDACT": "all", "EVALSTREAM_DLQ_TOPIC": dlq}
    args = ["--from-topic", topic, "--parquet-dir", str(root), *SUBSET, "--dlq"]
    result = backfill(redacting, *args)
    assert result.exit_code == 0, result.output
    assert "sent 1 bad messages" in result.stderr
    parquet_text = frame(root).astype(str).to_csv()
    (letter,) = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, dlq)]
    dead_raw = base64.b64decode(letter["raw_base64"]).decode()
    for text in (parquet_text, dead_raw):
        assert [s for s in (email, card, key) if s in text] == []
        assert "[REDACTED:email]" in text and "[REDACTED:api_key]" in text
    assert len(frame(root)) == 10  # 5 traces x 2 evaluators


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-files", "/nonexistent/x.jsonl"], "/nonexistent/x.jsonl: no such file"),
        (["--from-files", "."], "is a directory"),
        (["--from-files", "x.jsonl", "--start-offset", "3"], "apply to --from-topic only"),
        ([], "exactly one of --from-topic or --from-files"),
        (["--from-topic", "t", "--start-time", "yesterday"], "invalid time"),
        (["--from-files", "x", "--evaluators", "no_such_one"], "no_such_one"),
    ],
)
def test_mistakes_are_one_line_exit_2(args, message, tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    result = CliRunner().invoke(cli, [*args, "--parquet-dir", str(tmp_path)], env=clean)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines


def test_the_default_output_never_shares_the_workers_datasets(tmp_path):
    """The traces/spans siblings of the default backfill root are its own, not the worker's
    (a root of <data>/backfill had the worker's traces/ and spans/ as siblings)."""
    from pipeline.cli.backfill import _default_dir
    from pipeline.settings import load_settings
    from pipeline.sinks.dataset import dataset_roots

    settings = load_settings(parquet_dir=str(tmp_path / "data" / "parquet"))
    worker = {str(loc) for loc in dataset_roots(settings.parquet_dir).values()}
    backfill = {str(loc) for loc in dataset_roots(_default_dir(settings)).values()}
    assert not worker & backfill, worker & backfill
