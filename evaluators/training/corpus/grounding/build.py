"""Rebuild ``grounding``, ``paraphrase`` and ``answerable`` from the pinned originals.

Why the manifests drive the build: each ``corpus/sources/<id>.toml`` with
``builder = "grounding"`` names its repository, commit, files with sha256 and the reader that
maps them to our labels, so adding a source is one TOML file and one reader function, and the
row counts written back into the manifest always describe the committed data.

    python -m evaluators.training.corpus.grounding.build          # write data + row counts
    python -m evaluators.training.corpus.grounding.build --check  # rebuild, compare, write nothing
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from evaluators.training.corpus.grounding import TASKS, answers, claims, pairs
from evaluators.training.corpus.grounding._pinned import (
    DATA_DIR,
    LICENSES_DIR,
    SOURCES_DIR,
    SourceError,
    canonical,
    jsonl_gz_bytes,
    read_pinned,
)

BUILDER = "grounding"
ROWS_MARKER = "# --- row counts below are written by the builder; do not edit ---"
READERS: dict[str, Callable[[dict[str, bytes], str], dict[str, list[dict]]]] = {
    "factcheck_gpt": claims.factcheck_gpt,
    "begin": claims.begin,
    "summedits": claims.summedits,
    "snli": claims.snli,
    "dialfact": claims.dialfact,
    "paws": pairs.paws,
    "truthfulqa": pairs.truthfulqa,
    "qnli": answers.qnli,
    "selqa": answers.selqa,
}


def manifests(sources_dir: Path = SOURCES_DIR) -> dict[str, dict]:
    """The manifests of this builder, by source id."""
    found = {}
    for path in sorted(sources_dir.glob("*.toml")):
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
        if manifest.get("builder") == BUILDER:
            found[manifest["id"]] = manifest
    return found


def read_source(manifest: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(data files, licence files) of one source, every file checked against its pin."""
    data, licences = {}, {}
    for entry in manifest["files"]:
        blob = read_pinned(entry.get("repository", manifest["repository"]),
                           entry.get("commit", manifest["commit"]),
                           entry["path"], entry["sha256"])  # fmt: skip
        (licences if entry.get("role") == "license" else data)[entry["path"]] = blob
    return data, licences


def derive(manifest: dict, files: dict[str, bytes]) -> dict[str, list[dict]]:
    return READERS[manifest["reader"]](files, manifest["id"])


PAIR_FIELDS = {
    "grounding": ("premise", "hypothesis"),
    "paraphrase": ("a", "b"),
    "answerable": ("question", "context"),
}


def consistent(task: str, rows: list[dict]) -> list[dict]:
    """Rows once each; a pair that one source labels both ways is dropped altogether (the
    annotators disagreed, so neither label can be trusted)."""
    fields = PAIR_FIELDS[task]
    labels: dict[tuple, set[int]] = {}
    for row in rows:
        labels.setdefault(tuple(row[f] for f in fields), set()).add(row["label"])
    unique = {canonical(row): row for row in rows}
    return [r for r in unique.values() if len(labels[tuple(r[f] for f in fields)]) == 1]


def build_all(sources_dir: Path = SOURCES_DIR) -> tuple[dict[str, list[dict]], dict]:
    """All rows per task, the per-source label counts, and the licence texts per source."""
    by_task: dict[str, list[dict]] = {task: [] for task in TASKS}
    counts: dict[str, dict[str, Counter]] = {}
    licences: dict[str, dict[str, bytes]] = {}
    for source_id, manifest in manifests(sources_dir).items():
        files, licences[source_id] = read_source(manifest)
        derived = derive(manifest, files)
        counts[source_id] = {}
        for task, rows in derived.items():
            kept = consistent(task, rows)
            by_task[task].extend(kept)
            counts[source_id][task] = Counter(str(row["label"]) for row in kept)
    return by_task, {"counts": counts, "licences": licences}


def rows_section(counts: dict[str, Counter]) -> str:
    lines = [ROWS_MARKER]
    for task in sorted(counts):
        lines.append(f"[rows.{task}]")
        lines.extend(f'"{label}" = {n}' for label, n in sorted(counts[task].items()))
    return "\n".join(lines) + "\n"


def with_rows(text: str, counts: dict[str, Counter]) -> str:
    head = text.split(ROWS_MARKER)[0].rstrip("\n")
    return head + "\n\n" + rows_section(counts)


def licence_text(manifest: dict, blobs: dict[str, bytes]) -> bytes:
    """The attribution header and every pinned licence file of a source, in one file."""
    header = (
        f"Source: {manifest['id']} ({manifest['repository']} at {manifest['commit']})\n"
        f"Licence: {manifest['license']}\nAttribution: {manifest['attribution']}\n"
    )
    if manifest.get("license_note"):
        header += f"Note: {manifest['license_note']}\n"
    body = b"".join(b"\n----- " + path.encode() + b" -----\n\n" + blob
                    for path, blob in sorted(blobs.items()))  # fmt: skip
    return header.encode("utf-8") + body


def outputs(sources_dir: Path = SOURCES_DIR) -> dict[Path, bytes]:
    """Every file the build writes, with its bytes: data files, licences, manifests."""
    by_task, extra = build_all(sources_dir)
    out: dict[Path, bytes] = {DATA_DIR / f"{t}.jsonl.gz": jsonl_gz_bytes(by_task[t]) for t in TASKS}
    for source_id, manifest in manifests(sources_dir).items():
        out[LICENSES_DIR / f"{source_id}.LICENSE.txt"] = licence_text(
            manifest, extra["licences"][source_id]
        )
        toml_path = sources_dir / f"{source_id}.toml"
        text = toml_path.read_text(encoding="utf-8")
        out[toml_path] = with_rows(text, extra["counts"][source_id]).encode("utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    try:
        planned = outputs()
    except SourceError as error:
        print(error, file=sys.stderr)
        return 2
    stale = [p for p, blob in planned.items() if not p.is_file() or p.read_bytes() != blob]
    if args.check:
        for path in stale:
            print(f"differs: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(planned[path])
    for task in TASKS:
        size = (DATA_DIR / f"{task}.jsonl.gz").stat().st_size
        print(f"{task}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
