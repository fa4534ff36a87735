"""Every documented benchmark starts after the README's set-up (issue 16.12: `throughput.py`
failed with `No module named 'psutil'`, which only the benchmark needed). ``--help`` imports
the whole script and its helpers, so a missing dependency fails here, not in a user's hands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parent.parent / "benchmarks").glob("[a-z]*.py"))


def test_benchmarks_are_found() -> None:
    assert len(BENCHMARKS) >= 5


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_starts(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.slow
def test_ingest_benchmark_quick_run() -> None:
    """``benchmarks/ingest.py --quick`` runs end to end after ``make install`` with no manual
    step (its own broker and receiver), measures gRPC beside HTTP and finds every accepted
    span in the topic. Its numbers are not checked: speed is the benchmark's job."""
    script = Path(__file__).parent.parent / "benchmarks" / "ingest.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert any("HTTP clients back to back" in row for row in rows), done.stdout[-3000:]
    assert any("OTLP/gRPC calls back to back" in row for row in rows), done.stdout[-3000:]
    assert "missing: 0, duplicates: 0" in done.stdout, done.stdout[-3000:]
