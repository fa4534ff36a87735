"""The SDK is light to import and works from settings alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.kafka.broker import free_port

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("faust", "aiokafka", "pyarrow")


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_import_loads_no_stream_stack() -> None:
    loaded = _modules_after("import pipeline.client")
    assert not [m for m in HEAVY if m in loaded]
    assert "opentelemetry.sdk" not in loaded  # the exporter's optional dependency stays unloaded


def test_every_part_imports_without_the_stream_stack() -> None:
    loaded = _modules_after(
        "from pipeline.client import KafkaSpanExporter, ScoredTraceConsumer, TraceProducer\n"
        "from pipeline.client import traced\n"
        "import pipeline.sinks.otel_results"
    )
    assert not [m for m in HEAVY if m in loaded]


def test_defaults_come_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    from pipeline.client import KafkaSpanExporter, ScoredTraceConsumer, TraceProducer

    monkeypatch.setenv("EVALSTREAM_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("EVALSTREAM_SPILL_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("EVALSTREAM_ASYNC_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("EVALSTREAM_ASYNC_MAX_WORKERS", "1")
    producer = TraceProducer()
    assert (producer.topic, producer.policy) == ("traces", "spill")
    for i in range(3):
        producer.log_trace({"trace_id": f"t-{i}"})
    assert producer.stats().spilled == 1 and producer.stats().queued == 2
    producer.close(timeout=0)
    assert producer.stats().spilled == 3

    assert KafkaSpanExporter().topic == "otlp_spans"
    monkeypatch.setenv("EVALSTREAM_BOOTSTRAP_SERVERS", kafka_bootstrap)
    consumer = ScoredTraceConsumer()
    assert consumer.topic == "scored-traces"
    consumer.close()
