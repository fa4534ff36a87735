"""Rebuild the four safety task files from the pinned originals.

    python -m evaluators.training.corpus.safety.build [--task T] [--check]

Why one entry point: the data files, the row counts in ``sources/<id>.toml`` and the licence
files under ``licenses/`` must always agree with each other and with the pinned originals;
building all three together from the same rows is how they stay in agreement. ``--check``
builds in memory and reports whether the committed files are what the originals give.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from evaluators.training import corpus
from evaluators.training.corpus import _sources
from evaluators.training.corpus.safety import attack_sources as attack
from evaluators.training.corpus.safety import benign_sources as benign
from evaluators.training.corpus.safety import content_sources as content
from evaluators.training.corpus.safety import dialogue_sources as dialogue
from evaluators.training.corpus.safety import request_sources as request
from evaluators.training.corpus.safety import response_sources as response
from evaluators.training.corpus.safety.assemble import assemble

TASKS = ("safety_content", "safety_request", "refusal", "jailbreak")
BUILDER = "safety"

Extractor = Callable[[dict[str, bytes]], dict[str, list[dict]]]
EXTRACTORS: dict[str, Extractor] = {
    "hatecheck": content.hatecheck,
    "davidson_hate_offensive": content.davidson,
    "toxigen_prompts": content.toxigen_prompts,
    "convabuse": content.convabuse,
    "hatemoji": content.hatemoji,
    "reddit_mental_health": content.reddit_mental_health,
    "xstest_prompts": request.xstest_prompts,
    "coconot_contrast": request.coconot_contrast,
    "simple_safety_tests": request.simple_safety_tests,
    "harmbench_behaviors": request.harmbench_behaviors,
    "strongreject": request.strongreject,
    "red_instruct": request.red_instruct,
    "advbench": request.advbench,
    "self_instruct": request.self_instruct,
    "xstest_completions": response.xstest_completions,
    "jailbreakbench_artifacts": attack.jailbreakbench,
    "adaptive_attacks": attack.adaptive_attacks,
    "gptfuzz_labeled": response.gptfuzz,
    "do_not_answer": response.do_not_answer,
    "clinc_oos": benign.clinc_oos,
    "banking77": benign.banking77,
    "nq_open": benign.nq_open,
    "chatbot_benchmarks": benign.chatbot_benchmarks,
    "sgd_system_turns": dialogue.sgd_system_turns,
}


def safety_manifest(sources_dir: Path = corpus.SOURCES_DIR) -> dict[str, dict]:
    """The sources this builder owns (``builder = "safety"``), in id order."""
    manifest = _sources.load_manifest(sources_dir)
    return {sid: entry for sid, entry in manifest.items() if entry.get("builder") == BUILDER}


def read_source(entry: dict, root: Path | None = None) -> dict[str, bytes]:
    """Every pinned file of one source (data and licence), sha256-checked."""
    return {
        pinned["path"]: _sources.read_pinned(
            entry["repository"], entry["commit"], pinned["path"], pinned["sha256"], root
        )
        for pinned in entry["files"]
    }


def extract_all(manifest: dict[str, dict], root: Path | None = None) -> dict[str, list[dict]]:
    """Rows of every source, each tagged with its source id, grouped by task."""
    by_task: dict[str, list[dict]] = {task: [] for task in TASKS}
    for sid, entry in manifest.items():
        if sid not in EXTRACTORS:
            raise _sources.CorpusError(f"{sid}: no extractor registered in safety/build.py")
        for task, rows in EXTRACTORS[sid](read_source(entry, root)).items():
            by_task[task].extend({**row, "source": sid} for row in rows)
    return by_task


def label_counts(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Rows per source as ``{source: {label: n}}``."""
    counts: dict[str, Counter] = {}
    for row in rows:
        counts.setdefault(row["source"], Counter())[str(row["label"])] += 1
    return {sid: dict(counter) for sid, counter in counts.items()}


def licence_text(sid: str, entry: dict, files: dict[str, bytes]) -> str:
    header = (
        f"Source: {sid}\nRepository: {entry['repository']} at commit {entry['commit']}\n"
        f"Licence: {entry['license']}\nAttribution: {entry['attribution']}\n"
        f"Derived rows in evaluators/training/corpus/data/ are transformations of these files: "
        f"{', '.join(p['path'] for p in entry['files'] if p.get('role') != 'license')}\n"
        f"{'=' * 72}\n"
    )
    return header + files[entry["license_file"]].decode("utf-8")


def build(
    tasks: tuple[str, ...] = TASKS,
    root: Path | None = None,
    out_dir: Path | None = None,
    write: bool = True,
) -> dict[str, list[dict]]:
    """Derive, merge and (when ``write``) write the task files, row counts and licences.

    ``out_dir`` (tests) holds ``sources/``, ``data/`` and ``licenses/`` together; by default
    the manifests are the committed ones and the data goes to ``corpus.BUILD_DIR``."""
    sources_dir = corpus.SOURCES_DIR if out_dir is None else out_dir / "sources"
    data_dir = corpus.DATA_DIR if out_dir is None else out_dir / "data"
    licenses_dir = corpus.LICENSES_DIR if out_dir is None else out_dir / "licenses"
    manifest = safety_manifest(sources_dir)
    raw = extract_all(manifest, root)
    built = {task: assemble(task, raw[task]) for task in tasks}
    if not write:
        return built
    for task, rows in built.items():
        _sources.write_jsonl_gz(data_dir / f"{task}.jsonl.gz", rows)
    all_counts = {task: label_counts(rows) for task, rows in built.items()}
    for sid, entry in manifest.items():
        toml_path = sources_dir / f"{sid}.toml"
        counts = {task: dict(rows) for task, rows in entry.get("rows", {}).items()}
        for task in tasks:
            counts.pop(task, None)
            if sid in all_counts[task]:
                counts[task] = all_counts[task][sid]
        _sources.write_row_counts(toml_path, counts)
        text = licence_text(sid, entry, read_source(entry, root))
        licenses_dir.mkdir(parents=True, exist_ok=True)
        (licenses_dir / f"{sid}.LICENSE.txt").write_text(text, encoding="utf-8")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, action="append", help="only these tasks")
    parser.add_argument("--check", action="store_true", help="build in memory, compare")
    args = parser.parse_args(argv)
    tasks = tuple(args.task or TASKS)
    try:
        built = build(tasks, write=not args.check)
    except _sources.CorpusError as error:
        print(error, file=sys.stderr)
        return 2
    stale = []
    for task, rows in built.items():
        path = corpus.task_path(task)
        if args.check:
            committed = sorted(_sources.canonical(r) for r in _sources.read_jsonl_gz(path))
            if committed != sorted(_sources.canonical(r) for r in rows):
                stale.append(task)
        print(f"{task}: {len(rows)} rows, {Counter(r['label'] for r in rows)}")
    if stale:
        print(f"built files differ from the originals: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
