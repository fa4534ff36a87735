"""`evalstream demo --ui`: the demo's data, then the web UI over it, as a user runs it
(issue 17: from a failing correctness result to the trace through the API)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipeline.kafka.broker import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_demo_then_ui_serves_the_failing_results_of_its_run(kafka_bootstrap, tmp_path):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "EVALSTREAM_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "EVALSTREAM_UI_PORT": str(port),
    }
    args = ["demo", "--traces", "200", "--workdir", str(tmp_path), "--idle", "3", "--ui"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(1)
        assert health is not None and health.status_code == 200, proc.poll()
        base = f"http://127.0.0.1:{port}"
        failing = httpx.get(
            f"{base}/api/traces",
            params={"evaluator": "correctness", "passed": "false", "limit": 5},
            timeout=30,
        ).json()
        assert failing["total"] > 0 and failing["traces"]
        trace_id = failing["traces"][0]["trace_id"]
        detail = httpx.get(f"{base}/api/traces/{trace_id}", timeout=30).json()
        assert any(r["evaluator"] == "correctness" for r in detail["results"])
        page = httpx.get(f"{base}/traces/{trace_id}", timeout=30)
        assert page.status_code == 200 and trace_id in page.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
