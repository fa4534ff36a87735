"""The committed safety corpus against the training-corpus contract, and its rebuild.

The contract checks read only committed files (they run everywhere, CI included); the rebuild
needs the pinned originals and is skipped cleanly when they are not on the machine.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest

from evaluators.training import corpus
from evaluators.training.corpus import _sources
from evaluators.training.corpus.safety import build
from evaluators.training.corpus.safety.assemble import FIELDS, row_key
from evaluators.training.corpus.safety.categories import CATEGORIES, STYLES

LICENCES = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "CC0-1.0", "CC-BY-4.0",
            "CC-BY-SA-3.0", "CC-BY-SA-4.0", "ODC-BY-1.0", "CDLA-Permissive-2.0",
            "MIT AND CDLA-Permissive-2.0"}  # fmt: skip
RESERVED = ("moderation-api-release", "wice")
MAX_BYTES = 3_300_000


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict]:
    return build.safety_manifest()


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict]]:
    return {task: list(_sources.read_jsonl_gz(corpus.task_path(task))) for task in build.TASKS}


def test_manifest_pins_every_source(manifest):
    assert len(manifest) >= 10
    for sid, entry in manifest.items():
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repository"]), sid
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), sid
        assert entry["license"] in LICENCES, sid
        assert not any(word in entry["repository"].lower() for word in RESERVED), sid
        assert entry["files"] and all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"])
                                      for f in entry["files"]), sid  # fmt: skip
        assert entry["license_file"] in {f["path"] for f in entry["files"]}, sid
        assert entry["provenance"] and "://" not in entry["provenance"], sid
        assert (corpus.LICENSES_DIR / f"{sid}.LICENSE.txt").is_file(), sid
        assert sid in build.EXTRACTORS, sid


@pytest.mark.parametrize("task", build.TASKS)
def test_rows_follow_the_contract(task, rows, manifest):
    assert corpus.task_path(task).stat().st_size <= MAX_BYTES
    assert rows[task], task
    for row in rows[task]:
        assert tuple(sorted(row)) == tuple(sorted(FIELDS[task])), row
        assert row["label"] in (0, 1) and row["source"] in manifest
        if task in ("safety_content", "safety_request"):
            assert row["text"] and row["category"] in CATEGORIES
            assert (row["category"] == "none") == (row["label"] == 0), row
        if task == "safety_request":
            assert isinstance(row["lookalike"], bool)
            assert not (row["lookalike"] and row["label"] == 1), row
        if task in ("refusal", "jailbreak"):
            assert row["response"] and (row["prompt"] is None or isinstance(row["prompt"], str))
        if task == "jailbreak":
            assert row["style"] in STYLES


@pytest.mark.parametrize("task", build.TASKS)
def test_both_labels_and_several_sources_per_task(task, rows):
    labels = Counter(row["label"] for row in rows[task])
    assert labels[0] > 0 and labels[1] > 0
    if task != "refusal":  # refusal: one source so far (XSTest's five model set-ups)
        assert len({row["source"] for row in rows[task]}) >= 2


def test_manifest_counts_match_the_data(rows, manifest):
    for task in build.TASKS:
        actual = build.label_counts(rows[task])
        for sid, entry in manifest.items():
            assert entry.get("rows", {}).get(task, {}) == actual.get(sid, {}), (sid, task)


def test_every_source_contributes_rows(rows, manifest):
    used = {row["source"] for task_rows in rows.values() for row in task_rows}
    assert used == set(manifest)


@pytest.mark.parametrize("task", build.TASKS)
def test_texts_are_not_shared_between_sources(task, rows):
    sources_of: dict[str, set[str]] = {}
    for row in rows[task]:
        sources_of.setdefault(row_key(task, row), set()).add(row["source"])
    shared = sum(1 for ids in sources_of.values() if len(ids) > 1)
    assert shared <= 0.01 * len(sources_of)


def test_reserved_benchmarks_are_not_in_any_pinned_path(manifest):
    for entry in manifest.values():
        for pinned in entry["files"]:
            assert "moderation" not in pinned["path"].lower(), pinned
            assert "wice" not in pinned["path"].lower(), pinned


def _originals_present(manifest) -> bool:
    try:
        for entry in manifest.values():
            build.read_source(entry)
    except _sources.SourceMissing:
        return False
    return True


def test_rebuild_from_pinned_originals_is_byte_identical(tmp_path, manifest):
    if not _originals_present(manifest):
        pytest.skip("pinned originals not on this machine (see EVALSTREAM_CORPUS_SOURCES)")
    shutil.copytree(corpus.SOURCES_DIR, tmp_path / "sources")
    build.build(out_dir=tmp_path)
    for task in build.TASKS:
        rebuilt = (tmp_path / "data" / f"{task}.jsonl.gz").read_bytes()
        assert rebuilt == corpus.task_path(task).read_bytes(), task
    for path in sorted(corpus.SOURCES_DIR.glob("*.toml")):
        if path.stem in manifest:
            assert (tmp_path / "sources" / path.name).read_text() == path.read_text(), path.name
            rebuilt = (tmp_path / "licenses" / f"{path.stem}.LICENSE.txt").read_text()
            assert rebuilt == (corpus.LICENSES_DIR / f"{path.stem}.LICENSE.txt").read_text()
