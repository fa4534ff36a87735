"""The grounding corpus: committed files honour the contract, and the builder re-derives them.

The contract checks read only committed files, so they run everywhere; the rebuild check needs
the pinned snapshots (``/work/.mirror`` or ``$EVALSTREAM_CORPUS_SOURCES``) and skips without.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tomllib

import pytest

from evaluators.training.corpus.grounding import TASKS, answers, build, claims, pairs
from evaluators.training.corpus.grounding._pinned import (
    DATA_DIR,
    SOURCES_DIR,
    SourceError,
    canonical,
    jsonl_gz_bytes,
    read_pinned,
)
from evaluators.training.corpus.grounding._text import detokenize, trim_around

FIELDS = {
    "grounding": {"premise", "hypothesis", "label", "kind", "source"},
    "paraphrase": {"a", "b", "label", "source"},
    "answerable": {"question", "context", "label", "kind", "source"},
}
KINDS = {
    "grounding": {"claim", "summary", "answer", "nli"},
    "answerable": {"sentence", "passage", "answer_removed"},
}
RESERVED = ("ryokamoi/wice", "openai/moderation-api-release")


def _lines(task: str) -> list[str]:
    with gzip.open(DATA_DIR / f"{task}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    return build.manifests()


@pytest.mark.parametrize("task", TASKS)
def test_task_file_is_sorted_unique_and_reproducible_gzip(task):
    path = DATA_DIR / f"{task}.jsonl.gz"
    raw = path.read_bytes()
    assert raw[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
    assert len(raw) <= 3_000_000
    lines = _lines(task)
    assert lines == sorted(set(lines))
    assert jsonl_gz_bytes(json.loads(line) for line in lines) == raw


@pytest.mark.parametrize("task", TASKS)
def test_rows_follow_the_contract(task, manifests):
    rows = [json.loads(line) for line in _lines(task)]
    assert len(rows) > 1000
    for row in rows:
        assert set(row) == FIELDS[task]
        assert row["label"] in (0, 1)
        assert row["source"] in manifests
        texts = [v for k, v in row.items() if k not in ("label", "kind", "source")]
        assert all(isinstance(t, str) and t.strip() == t and t for t in texts)
        if task in KINDS:
            assert row["kind"] in KINDS[task]
    for key in ("premise", "context"):
        assert all(len(row.get(key, "")) <= 2000 for row in rows)


@pytest.mark.parametrize("task", TASKS)
def test_each_task_has_several_sources_with_both_labels(task):
    rows = [json.loads(line) for line in _lines(task)]
    sources = {row["source"] for row in rows}
    assert len(sources) >= 2, "holding out a whole source needs more than one"
    labels_per_source = {s: {r["label"] for r in rows if r["source"] == s} for s in sources}
    assert all(labels == {0, 1} for labels in labels_per_source.values())


def test_manifest_row_counts_describe_the_data(manifests):
    counted: dict[tuple, int] = {}
    for task in TASKS:
        for line in _lines(task):
            row = json.loads(line)
            key = (row["source"], task, str(row["label"]))
            counted[key] = counted.get(key, 0) + 1
    declared = {
        (source_id, task, label): n
        for source_id, manifest in manifests.items()
        for task, by_label in manifest.get("rows", {}).items()
        for label, n in by_label.items()
    }
    assert declared == counted


def test_manifests_pin_every_file_and_use_no_reserved_data(manifests):
    assert manifests, "no grounding manifests found"
    for source_id, manifest in manifests.items():
        assert (SOURCES_DIR / f"{source_id}.toml").is_file()
        assert manifest["reader"] in build.READERS
        assert len(manifest["commit"]) == 40
        assert "NC" not in manifest["license"] and "ND" not in manifest["license"]
        assert "://" not in json.dumps(manifest), "provenance notes stay URL-free"
        for entry in manifest["files"]:
            assert len(entry["sha256"]) == 64
            repository = entry.get("repository", manifest["repository"]).lower()
            assert repository not in RESERVED
        assert manifest["repository"].lower() not in RESERVED
        assert "wice" not in source_id and "aggrefact" not in source_id


def test_pinned_file_is_refused_when_its_bytes_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALSTREAM_CORPUS_SOURCES", str(tmp_path))
    (tmp_path / "owner+name").mkdir()
    (tmp_path / "owner+name" / "data.txt").write_bytes(b"pinned bytes\n")
    good = hashlib.sha256(b"pinned bytes\n").hexdigest()
    assert read_pinned("owner/name", "0" * 40, "data.txt", good) == b"pinned bytes\n"
    with pytest.raises(SourceError, match="sha256 mismatch"):
        read_pinned("owner/name", "0" * 40, "data.txt", "f" * 64)
    with pytest.raises(SourceError, match="source missing"):
        read_pinned("other/repo", "0" * 40, "data.txt", good)


def test_partial_support_is_not_support():
    line = {"claim": "C", "evidence": "E", "stance": "partially-support"}
    full = {**line, "stance": "completely-support"}
    data = (json.dumps(line) + "\n" + json.dumps(full) + "\n").encode()
    rows = claims.factcheck_gpt({"f.jsonl": data}, "src")["grounding"]
    assert sorted(r["label"] for r in rows) == [0, 1]


def test_generic_dialogue_responses_are_dropped():
    tsv = (
        b"model_name\tdata_source\tknowledge\tmessage\tresponse\tbegin_label\n"
        b"t5\twow\tK one.\tM\tR one\tFully attributable\n"
        b"t5\twow\tK two.\tM\tcool!\tGeneric\n"
    )
    rows = claims.begin({"f.tsv": tsv}, "src")["grounding"]
    assert [(r["hypothesis"], r["label"]) for r in rows] == [("R one", 1)]


def test_a_pair_labelled_both_ways_is_dropped():
    rows = [
        {"a": "x", "b": "y", "label": 1, "source": "s"},
        {"a": "x", "b": "y", "label": 0, "source": "s"},
        {"a": "x", "b": "z", "label": 1, "source": "s"},
        {"a": "x", "b": "z", "label": 1, "source": "s"},
    ]
    assert [canonical(r) for r in build.consistent("paraphrase", rows)] == [canonical(rows[2])]


def test_truthfulqa_pairs_skip_non_answers():
    csv_text = (
        b"Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
        b'A,B,Q?,Nothing happens,"Nothing happens; You digest them; I have no comment",'
        b'"You grow a watermelon",S\n'
    )
    rows = pairs.truthfulqa({"t.csv": csv_text}, "src")["paraphrase"]
    assert {(r["b"], r["label"]) for r in rows} == {("You digest them", 1),
                                                    ("You grow a watermelon", 0)}  # fmt: skip


def test_selqa_negative_lacks_every_answer_sentence():
    item = {"question": "Where?", "answers": [1, 2],
            "candidates": ["First.", "Answer one.", "Answer two.", "Last."]}  # fmt: skip
    rows = answers.selqa({"s.json": json.dumps([item]).encode()}, "src")["answerable"]
    by_label = {r["label"]: r["context"] for r in rows}
    assert "Answer one." in by_label[1]
    assert "Answer" not in by_label[0] and "First." in by_label[0]


def test_long_premise_is_trimmed_around_the_evidence():
    filler = " ".join(f"Sentence number {i} is about nothing." for i in range(200))
    premise = filler + " The bridge opened in 1932 in Sydney. " + filler
    trimmed = trim_around(premise, "The Sydney bridge opened in 1932.")
    assert len(trimmed) <= 2000 and "opened in 1932 in Sydney" in trimmed


def test_detokenize_restores_plain_spacing():
    text = "In Paris , in 1560 , he met the `` English '' envoy ( Nicolas ) ."
    assert detokenize(text) == 'In Paris, in 1560, he met the "English" envoy (Nicolas).'


def test_builder_rebuilds_the_committed_files_byte_for_byte():
    try:
        planned = build.outputs()
    except SourceError as error:
        pytest.skip(f"pinned sources not on this machine: {error}")
    for path, blob in planned.items():
        assert path.read_bytes() == blob, f"{path.name} differs from a fresh build"
    assert build.outputs() == planned
    for path in SOURCES_DIR.glob("*.toml"):
        tomllib.loads(path.read_text(encoding="utf-8"))
