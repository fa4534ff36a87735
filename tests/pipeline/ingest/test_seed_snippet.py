"""Issue 18.1's "done means": the seed page's snippet (MLflow "Export MLflow Traces via OTLP"),
run as a new user would, in a fresh venv holding only mlflow-tracing and the OTel exporters
from PyPI, through the real receiver, broker and worker into Parquet.

Run 1 uses the exporter's default protocol, gRPC, at the page's endpoint. Run 2 adds the page's
second block: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf`` and
``OTEL_EXPORTER_OTLP_TRACES_HEADERS=api_key=12345`` (the receiver requires that header). The
page points both at ``localhost:4317``; OTLP/HTTP is on 4318 by convention (and here), so run 2
changes only the port in the snippet. Port 4317 itself is used when it is free on this machine
(otherwise a free port: other test runs may share the machine).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
import venv
from pathlib import Path

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all

sys.path.insert(0, str(Path(__file__).resolve().parent / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver
from worker_process import run_worker, worker_env

from pipeline.kafka.broker.config import port_is_free
from pipeline.kafka.broker.local import free_port

SEED_SNIPPET = """\
import mlflow
import os

# Set the endpoint of the OpenTelemetry Collector
os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://localhost:4317/v1/traces"
# Optionally, set the service name to group traces
os.environ["OTEL_SERVICE_NAME"] = "your-service-name"

# Trace will be exported to the OTel collector
with mlflow.start_span(name="foo") as span:
    span.set_inputs({"a": 1})
    span.set_outputs({"b": 2})
"""


@pytest.fixture(scope="module")
def seed_python(tmp_path_factory) -> Path:
    """A fresh venv with what the page installs: mlflow-tracing + opentelemetry-exporter-otlp."""
    home = tmp_path_factory.mktemp("seed-venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "mlflow-tracing",
            "opentelemetry-exporter-otlp",
        ],
        check=True,
        timeout=900,
    )
    return python


def _run_seed(python: Path, snippet: str, tmp_path: Path, **env: str) -> None:
    script = tmp_path / f"seed_{uuid.uuid4().hex[:6]}.py"
    script.write_text(snippet)
    clean = {k: v for k, v in receiver_env("", "", 0).items() if not k.startswith("EVALSTREAM_")}
    # mlflow-tracing 3.x records nothing without a tracking URI (any http URL will do)
    clean.update(MLFLOW_TRACKING_URI="http://127.0.0.1:1", **env)
    done = subprocess.run(
        [str(python), str(script)], env=clean, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Failed to export" not in done.stderr, done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_seed_snippet_lands_in_parquet(seed_python, protocol, kafka_bootstrap, new_topic, tmp_path):
    grpc_port = 4317 if port_is_free(4317) else free_port()
    http_port = free_port()
    spans, topic = new_topic(partitions=2), new_topic(partitions=2)
    env = receiver_env(
        kafka_bootstrap, spans, http_port,
        EVALSTREAM_RECEIVER_GRPC_PORT=str(grpc_port),
        EVALSTREAM_RECEIVER_AUTH_HEADER="api_key=12345",
    )  # fmt: skip
    snippet_port = grpc_port if protocol == "grpc" else http_port
    snippet = SEED_SNIPPET.replace("localhost:4317", f"localhost:{snippet_port}")
    receiver = start_receiver(env)
    try:
        _run_seed(
            seed_python, snippet, tmp_path,
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=protocol,
            OTEL_EXPORTER_OTLP_TRACES_HEADERS="api_key=12345",
        )  # fmt: skip
    finally:
        code, output = stop_receiver(receiver)
    assert code == 0 and "12345" not in output, output[-3000:]

    parquet = tmp_path / "parquet"
    run_worker(
        worker_env(
            kafka_bootstrap, topic, parquet, EVALSTREAM_SPANS_TOPIC=spans,
            EVALSTREAM_TRACE_GRACE_SECONDS="0.5",
        ),
        idle=4,
    )  # fmt: skip
    (trace,) = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, topic)]
    assert (trace["inputs"], trace["outputs"]) == ({"a": 1}, {"b": 2})
    rows = pd.read_parquet(parquet)
    assert set(rows["trace_id"]) == {trace["trace_id"]}
    assert set(rows["app"]) == {"your-service-name"}
