"""Run the OTLP receiver as a real child process for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[4]
_MAIN = (
    "import sys; from pipeline.settings import load_settings;"
    " from pipeline.ingest.receiver.server import ReceiverLimits, run_receiver;"
    " run_receiver(load_settings(), ReceiverLimits(max_inflight_requests=int(sys.argv[1])))"
)


def receiver_env(bootstrap: str, spans_topic: str, port: int, **extra: str) -> dict[str, str]:
    """The receiver's environment; its gRPC port is a free one unless ``extra`` names one."""
    from pipeline.kafka.broker.local import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALSTREAM_", "OTEL_"))}
    env.update(
        EVALSTREAM_BOOTSTRAP_SERVERS=bootstrap,
        EVALSTREAM_SPANS_TOPIC=spans_topic,
        EVALSTREAM_RECEIVER_PORT=str(port),
        EVALSTREAM_RECEIVER_GRPC_PORT=str(free_port()),
        EVALSTREAM_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


def start_receiver(env: dict[str, str], max_inflight: int = 64) -> subprocess.Popen[str]:
    """Start ``run_receiver`` and wait until GET /health answers 200.

    Its output goes to a temporary file, not a pipe: a pipe nobody reads fills up during a
    Kafka outage (client logs) and would block the receiver's event loop.
    """
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, str(max_inflight)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited {proc.returncode}: {_output(proc)[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("receiver did not become healthy within 30 s")


def stop_receiver(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str]:
    """SIGTERM (graceful shutdown), then the exit code and stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode, _output(proc)


def _output(proc: subprocess.Popen[str]) -> str:
    log = proc.log  # type: ignore[attr-defined]
    log.flush()
    log.seek(0)
    return log.read()
