"""Public labelled training corpora, rebuilt from pinned originals (not shipped in the wheel).

Why a package of its own: training must be able to hold out whole *sources*, so every row
carries the id of the source it came from, and every source is pinned (repository, commit,
sha256 of each original file, licence) in ``sources/<id>.toml``. The data files under
``data/`` are derived, deterministic (sorted rows, gzip mtime 0) and rebuilt by the builder of
the subpackage that owns the task:

- ``safety/`` (``python -m evaluators.training.corpus.safety.build``): ``safety_content``,
  ``safety_request``, ``refusal``, ``jailbreak``;
- ``grounding/``: ``grounding``, ``paraphrase``, ``answerable``.

Shared helpers (reading a pinned file, sha256 check, deterministic gzip, manifests) live in
``_sources.py``.
"""

from __future__ import annotations

from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
DATA_DIR = CORPUS_DIR / "data"
SOURCES_DIR = CORPUS_DIR / "sources"
LICENSES_DIR = CORPUS_DIR / "licenses"


def task_path(task: str) -> Path:
    """Where the derived rows of ``task`` live."""
    return DATA_DIR / f"{task}.jsonl.gz"


__all__ = ["CORPUS_DIR", "DATA_DIR", "LICENSES_DIR", "SOURCES_DIR", "task_path"]
