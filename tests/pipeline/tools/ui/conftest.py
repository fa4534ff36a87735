"""Datasets for the UI tests: sample traces with spans and sessions, scored by the real
default evaluators, written in the worker's layout; plus the traces a UI must survive (a
script payload, a re-sent trace with two versions, a field over the size limit)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.tools.demo.samples import sample_traces
from pipeline.tools.ui.app import create_app
from pipeline.tools.ui.layout import Datasets
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.testing import score_traces, with_spans, write_datasets

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SCRIPT_IN = "<script>alert('inputs')</script>"
SCRIPT_OUT = '<script>alert("outputs")</script><img src=x onerror=alert(1)>'
SCRIPT_SPAN = "<script>document.title='span'</script>"
HUGE = "word " * 14_000  # 70,000 bytes: over the 64 KB field limit


def _special() -> list[dict]:
    when = (START + timedelta(hours=1, minutes=30)).isoformat()
    base = {"timestamp": when, "latency_ms": 420.0, "model": "gpt-4o",
            "usage": {"input_tokens": 10, "output_tokens": 5}}  # fmt: skip
    xss = with_spans({**base, "trace_id": "tr-xss", "inputs": {"question": SCRIPT_IN},
                      "outputs": SCRIPT_OUT, "context": [SCRIPT_IN],
                      "tags": {"app": "support-bot"}}, 1)  # fmt: skip
    xss["spans"][2]["outputs"] = SCRIPT_SPAN
    huge = {**base, "trace_id": "tr-huge", "inputs": "tell me everything", "outputs": HUGE,
            "tags": {"app": "chat", "session_id": "session-huge"}}  # fmt: skip
    return [xss, huge]


def _versioned(version: int) -> dict:
    answer = "Annual plans are refundable within 90 days." if version == 1 else (
        "Annual plans can be refunded within 30 days of purchase.")  # fmt: skip
    return {
        "trace_id": "tr-versioned", "timestamp": (START + timedelta(hours=2)).isoformat(),
        "inputs": {"question": "What is the refund window for annual plans?"},
        "outputs": answer, "latency_ms": 300.0, "tags": {"app": "support-bot"},
        "context": ["Annual plans can be refunded within 30 days of purchase."],
        "expectations": {"expected_response": "Within 30 days of purchase."},
    }  # fmt: skip


@pytest.fixture(scope="session")
def ui_results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full data directory: results, traces and spans (three hours, 243 traces)."""
    root = tmp_path_factory.mktemp("ui-data") / "parquet"
    traces = [with_spans(t, i) for i, t in enumerate(
        sample_traces(240, start=START, spread_seconds=3 * 3600))]  # fmt: skip
    write_datasets(root, score_traces([*traces, *_special(), _versioned(1)]))
    write_datasets(root, score_traces([_versioned(2)]), versions=[2], first_offset=1000)
    return root


@pytest.fixture(scope="session")
def results_only_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Older data: the results dataset without traces or spans beside it."""
    root = tmp_path_factory.mktemp("ui-old") / "parquet"
    traces = sample_traces(60, start=START, spread_seconds=3600)
    write_datasets(root, score_traces(traces), with_content=False)
    return root


def make_client(results_dir: Path, token: str | None = None):
    from starlette.testclient import TestClient

    store = Store(Datasets.beside(results_dir), listing_ttl=0)
    return TestClient(create_app(store, token=token))


@pytest.fixture(scope="session")
def client(ui_results_dir):
    with make_client(ui_results_dir) as c:
        yield c


@contextmanager
def serve_ui(results_dir: Path):
    """``evalstream ui`` as a real process on a free loopback port; yields its base URL."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from pipeline.kafka.broker import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "ui", "--data-dir", str(results_dir),
         "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[4],
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            server.kill()
            pytest.fail(f"evalstream ui did not start: {server.communicate()[1][-2000:]}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def ui_server(ui_results_dir):
    """``evalstream ui`` as a real process on a free loopback port; yields its base URL."""
    with serve_ui(ui_results_dir) as base:
        yield base
