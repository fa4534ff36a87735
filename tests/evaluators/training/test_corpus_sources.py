"""The shared corpus helpers: pinned reads fail loudly, derived files are byte-stable."""

from __future__ import annotations

import gzip
import subprocess
import tomllib

import pytest

from evaluators.training.corpus import _sources
from evaluators.training.corpus.safety.assemble import assemble


def _sha(data: bytes) -> str:
    return _sources.sha256_hex(data)


def test_written_files_are_identical_whatever_the_row_order(tmp_path):
    rows = [{"text": "b", "label": 1}, {"label": 0, "text": "a"}, {"text": "c", "label": 0}]
    first, second = tmp_path / "one.jsonl.gz", tmp_path / "two.jsonl.gz"
    _sources.write_jsonl_gz(first, rows)
    _sources.write_jsonl_gz(second, list(reversed(rows)))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    lines = gzip.decompress(first.read_bytes()).decode().splitlines()
    assert lines == sorted(lines) and len(lines) == 3
    assert next(iter(_sources.read_jsonl_gz(first))) == {"label": 0, "text": "a"}


def test_plain_checkout_is_read_and_its_hash_checked(tmp_path):
    base = tmp_path / "owner+name" / "data"
    base.mkdir(parents=True)
    (base / "f.csv").write_bytes(b"a,b\n1,2\n")
    got = _sources.read_pinned("owner/name", "0" * 40, "data/f.csv", _sha(b"a,b\n1,2\n"), tmp_path)
    assert got == b"a,b\n1,2\n"
    with pytest.raises(_sources.SourceMismatch, match="sha256 mismatch: owner/name"):
        _sources.read_pinned("owner/name", "0" * 40, "data/f.csv", _sha(b"other"), tmp_path)


def test_missing_source_names_repository_and_path_in_one_line(tmp_path):
    with pytest.raises(_sources.SourceMissing) as caught:
        _sources.read_pinned("owner/absent", "1" * 40, "x.csv", "0" * 64, tmp_path)
    message = str(caught.value)
    assert "owner/absent" in message and "x.csv" in message and "\n" not in message


def test_bare_git_snapshot_is_read_at_the_pinned_commit(tmp_path):
    work = tmp_path / "work"
    work.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(work), *args], capture_output=True, check=True)
        return done.stdout.decode().strip()

    git("init", "-q")
    (work / "f.txt").write_bytes(b"first\n")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    pinned = git("rev-parse", "HEAD")
    (work / "f.txt").write_bytes(b"second\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    mirror = tmp_path / "mirror" / "owner+name"
    mirror.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror / "repo")], check=True)
    got = _sources.read_pinned("owner/name", pinned, "f.txt", _sha(b"first\n"), tmp_path / "mirror")
    assert got == b"first\n"


def test_row_counts_are_rewritten_not_appended(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('id = "s"\nrepository = "o/n"\n', encoding="utf-8")
    _sources.write_row_counts(path, {"refusal": {"1": 3, "0": 2}})
    _sources.write_row_counts(path, {"refusal": {"1": 4}, "jailbreak": {"0": 1}})
    entry = tomllib.loads(path.read_text(encoding="utf-8"))
    assert entry["rows"] == {"refusal": {"1": 4}, "jailbreak": {"0": 1}}
    assert path.read_text(encoding="utf-8").count(_sources.ROWS_MARKER) == 1


def test_stable_sample_does_not_depend_on_input_order():
    rows = [{"text": f"t{i}"} for i in range(50)]
    assert _sources.stable_sample(rows, 7) == _sources.stable_sample(list(reversed(rows)), 7)
    assert len(_sources.stable_sample(rows, 7)) == 7


def test_assemble_keeps_one_copy_and_drops_conflicting_labels():
    rows = [
        {"text": "Same  Text", "label": 1, "category": "hate", "source": "b"},
        {"text": "same text", "label": 1, "category": "hate", "source": "a"},
        {"text": "disputed", "label": 1, "category": "hate", "source": "a"},
        {"text": "Disputed", "label": 0, "category": "none", "source": "b"},
        {"text": "plain", "label": 0, "category": "none", "source": "b", "extra": 1},
    ]
    kept = assemble("safety_content", rows)
    assert [(r["text"], r["source"]) for r in kept] == [("same text", "a"), ("plain", "b")]
    assert all(set(r) == {"text", "label", "category", "source"} for r in kept)
