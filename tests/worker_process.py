"""Run ``evalstream worker`` as a real child process for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker_env(
    bootstrap: str, topic: str, parquet_dir: Path | str, state_dir: Path | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a worker child; ``parquet_dir`` may be an ``s3://`` URI (then give
    ``state_dir``, and the AWS variables in ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    if state_dir is None:
        state_dir = Path(parquet_dir).parent / "worker-state"
    env.update(
        EVALSTREAM_BOOTSTRAP_SERVERS=bootstrap,
        EVALSTREAM_INPUT_TOPIC=topic,
        EVALSTREAM_SCORED_TOPIC=f"{topic}.scored",
        EVALSTREAM_SESSION_TURNS_TOPIC=f"{topic}.session-turns",
        EVALSTREAM_SCORED_SESSIONS_TOPIC=f"{topic}.scored-sessions",
        EVALSTREAM_METRICS_TOPIC=f"{topic}.metrics",
        EVALSTREAM_DLQ_TOPIC=f"{topic}.dlq",
        EVALSTREAM_PARQUET_DIR=str(parquet_dir),
        EVALSTREAM_CONSUMER_GROUP=f"{topic}-workers",
        EVALSTREAM_STATE_DIR=str(state_dir),
        **extra,
    )
    return env


def run_worker(
    env: dict[str, str], idle: float = 3.0, timeout: float = 240, cwd: Path = ROOT
) -> str:
    """Run a worker until it is idle; return its stderr. Fails the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", str(idle)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"worker exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stderr
