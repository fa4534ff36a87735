"""Issue 7's "done means": real instrumented apps export OTLP/HTTP to the receiver ->
Kafka spans topic -> the assembler inside a real worker -> Parquet rows.

Two apps, each in its own process: mlflow-tracing (RETRIEVER, TOOL that fails, CHAT_MODEL
with token usage, AGENT root) and the plain OpenTelemetry SDK with OpenInference attributes.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all

sys.path.insert(0, str(Path(__file__).resolve().parent / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver
from worker_process import ROOT, run_worker, worker_env

from pipeline.kafka.broker import free_port

_HERE = Path(__file__).resolve().parent
TOKEN = "e2e-token-" + uuid.uuid4().hex[:8]


def _run_app(script: str, endpoint: str, **extra: str) -> list[str]:
    """Run an app script with the standard OTLP exporter variables; its stdout lines."""
    env = {k: v for k, v in receiver_env("", "", 0).items() if not k.startswith("EVALSTREAM_")}
    env.update(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{endpoint}/v1/traces",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS=f"Authorization=Bearer%20{TOKEN}",
        **extra,
    )
    done = subprocess.run(
        [sys.executable, str(_HERE / "apps" / script)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_instrumented_apps_land_in_parquet(kafka_bootstrap, new_topic, tmp_path):
    pytest.importorskip("mlflow", reason="needs mlflow-tracing")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs the OTLP exporter")
    topic, spans = new_topic(partitions=2), new_topic(partitions=2)
    env = receiver_env(kafka_bootstrap, spans, free_port(), EVALSTREAM_RECEIVER_TOKEN=TOKEN)
    receiver = start_receiver(env)
    endpoint = f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}"
    try:
        mlflow_out = _run_app(
            "mlflow_support_bot.py",
            endpoint,
            OTEL_SERVICE_NAME="support-bot",
            MLFLOW_TRACKING_URI="http://127.0.0.1:1",
        )
        (oi_trace_id,) = _run_app("openinference_sdk_app.py", endpoint)
    finally:
        code, stderr = stop_receiver(receiver)
    assert code == 0 and TOKEN not in stderr, stderr[-2000:]
    refund_id, parcel_id = (word for word in mlflow_out if word.startswith("tr-"))

    parquet = tmp_path / "parquet"
    run_worker(
        worker_env(
            kafka_bootstrap, topic, parquet, EVALSTREAM_SPANS_TOPIC=spans,
            EVALSTREAM_TRACE_GRACE_SECONDS="0.5",
        ),
        idle=4,
    )  # fmt: skip

    records = consume_all(kafka_bootstrap, topic)
    traces = {t["trace_id"]: t for t in (orjson.loads(r.value) for r in records)}
    assert set(traces) == {refund_id, parcel_id, oi_trace_id}
    assert traces[refund_id]["context"] == [
        "Refunds are issued within 14 days of purchase to the original payment method."
    ]
    assert traces[oi_trace_id]["context"] == [
        "Paris is the capital and largest city of France.",
        "France is in Europe.",
    ]
    assert traces[oi_trace_id]["inputs"] == "What is the capital of France?"
    assert traces[oi_trace_id]["outputs"] == "Paris."

    frame = pd.read_parquet(parquet)
    rows = frame.drop_duplicates("trace_id").set_index("trace_id")
    assert set(rows.index) == {refund_id, parcel_id, oi_trace_id}
    assert rows.loc[refund_id, "status"] == "OK"
    assert rows.loc[parcel_id, "status"] == "ERROR"  # the lookup_order tool span failed
    assert rows.loc[oi_trace_id, "status"] == "ERROR"  # the web-search tool span failed
    assert (rows.loc[refund_id, "input_tokens"], rows.loc[refund_id, "output_tokens"]) == (120, 30)
    assert (rows.loc[oi_trace_id, "input_tokens"], rows.loc[oi_trace_id, "output_tokens"]) == (
        42,
        7,
    )
    assert set(rows["model"]) == {"gpt-4o-mini"}
    assert set(rows["app"]) == {"support-bot", "oi-rag"}
    context_rows = frame[frame["evaluator"] == "context_sufficiency"].set_index("trace_id")
    for trace_id, documents in [(refund_id, 1), (oi_trace_id, 2)]:
        assert orjson.loads(context_rows.loc[trace_id, "metadata_json"])["documents"] == documents
