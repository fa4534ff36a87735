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
