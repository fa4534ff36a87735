"""Where the datasets are, how their files are read, and the leak-free split rule.

A unit goes to test when the md5 of its key falls in the lowest ``TEST_SHARE`` of the hash
space: stable across runs, machines and Python versions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

TEST_SHARE = 0.35
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def datasets_dir() -> Path:
    """``$EVALSTREAM_DATASETS_DIR`` or ``<project root>/../shared/datasets``."""
    env = os.environ.get("EVALSTREAM_DATASETS_DIR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "datasets"


def available() -> bool:
    return (datasets_dir() / "README.txt").is_file()


def split_of(key: str) -> str:
    bucket = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "train"


def jsonl_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def csv_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))
