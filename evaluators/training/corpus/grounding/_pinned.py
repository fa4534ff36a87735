"""Reading pinned originals and writing byte-identical task files.

Why here and not shared: the safety builder has helpers of its own in another branch; these
few functions keep this subpackage self-contained until the two are merged. Originals are
read from the bare git snapshots the ``fetch`` tool leaves under ``/work/.mirror`` (or
``$EVALSTREAM_CORPUS_SOURCES``), never from the network, and each file's sha256 must match its
pin: a changed or absent original stops the build with one line naming it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = CORPUS_DIR / "data"
SOURCES_DIR = CORPUS_DIR / "sources"
LICENSES_DIR = CORPUS_DIR / "licenses"
PROJECT_ROOT = CORPUS_DIR.parents[2]


class SourceError(Exception):
    """A pinned original is absent or differs from its pin."""


def sources_root() -> Path:
    """``$EVALSTREAM_CORPUS_SOURCES`` or the ``.mirror`` directory beside the project."""
    env = os.environ.get("EVALSTREAM_CORPUS_SOURCES")
    return Path(env) if env else PROJECT_ROOT.parent / ".mirror"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_dir(base: Path) -> Path | None:
    for candidate in (base / "repo", base / "repo" / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def read_pinned(repository: str, commit: str, path: str, sha256: str) -> bytes:
    """The bytes of ``path`` at ``commit`` of ``repository``, checked against ``sha256``.

    A plain checkout ``<root>/<owner>+<name>/<path>`` is accepted too, so the build also works
    from unpacked archives of the same files.
    """
    base = sources_root() / repository.replace("/", "+")
    data: bytes | None = None
    git_dir = _git_dir(base)
    if git_dir is not None:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
            capture_output=True,
            check=False,
        )
        data = done.stdout if done.returncode == 0 else None
    elif (base / path).is_file():
        data = (base / path).read_bytes()
    if data is None:
        raise SourceError(
            f"source missing: {repository}@{commit[:12]}:{path} not under {base} "
            "(fetch the snapshot or set EVALSTREAM_CORPUS_SOURCES)"
        )
    if sha256_hex(data) != sha256:
        raise SourceError(
            f"sha256 mismatch: {repository}@{commit[:12]}:{path} is {sha256_hex(data)[:16]}..., "
            f"pinned {sha256[:16]}..."
        )
    return data


def canonical(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def jsonl_gz_bytes(rows: Iterable[dict]) -> bytes:
    """Sorted, de-duplicated rows, gzip without name or time: same rows, same bytes."""
    lines = sorted({canonical(row) for row in rows})
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        for line in lines:
            fh.write(line.encode("utf-8") + b"\n")
    return buffer.getvalue()


def read_jsonl_gz(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
