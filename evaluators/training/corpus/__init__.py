"""Public labelled training corpora, rebuilt from pinned originals (not shipped in the wheel).

Why a package of its own: training must be able to hold out whole *sources*, so every row
carries the id of the source it came from, and every source is pinned (repository, commit,
sha256 of each original file, licence) in ``sources/<id>.toml``. The data files under
``data/`` are derived, deterministic (sorted rows, gzip mtime 0) and rebuilt by the builder of
the subpackage that owns the task. They are built outside the repository, under
``$EVALSTREAM_CORPUS_DIR`` (default ``~/.cache/evalstream/corpus``): the rows are third-party
text, kept out of commits; only the pins, the builders and the trained models are committed.
Builders:

- ``safety/`` (``python -m evaluators.training.corpus.safety.build``): ``safety_content``,
  ``safety_request``, ``refusal``, ``jailbreak``;
- ``grounding/``: ``grounding``, ``paraphrase``, ``answerable``.

Shared helpers (reading a pinned file, sha256 check, deterministic gzip, manifests) live in
``_sources.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
SOURCES_DIR = CORPUS_DIR / "sources"
BUILD_DIR = Path(
    os.environ.get("EVALSTREAM_CORPUS_DIR") or Path.home() / ".cache" / "evalstream" / "corpus"
)
DATA_DIR = BUILD_DIR / "data"
LICENSES_DIR = BUILD_DIR / "licenses"


def task_path(task: str) -> Path:
    """Where the derived rows of ``task`` live."""
    return DATA_DIR / f"{task}.jsonl.gz"


def is_built(tasks: tuple[str, ...]) -> bool:
    """Whether every task file exists here (tests and training skip or stop cleanly if not)."""
    return all(task_path(task).is_file() for task in tasks)


__all__ = [
    "BUILD_DIR",
    "CORPUS_DIR",
    "DATA_DIR",
    "LICENSES_DIR",
    "SOURCES_DIR",
    "is_built",
    "task_path",
]
