"""Fixtures of the ingest tests: the shared trace datasets (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """``<datasets>/4_traces`` from env ``EVALSTREAM_DATASETS_DIR`` or ``../shared/datasets``."""
    base = Path(os.environ.get("EVALSTREAM_DATASETS_DIR", _ROOT.parent / "shared" / "datasets"))
    path = base / "4_traces"
    if not path.is_dir():
        pytest.skip(f"trace datasets not found at {path}")
    return path


@pytest.fixture(scope="session")
def load(traces_dir: Path):
    def read(relative: str):
        return orjson.loads((traces_dir / relative).read_bytes())

    return read
