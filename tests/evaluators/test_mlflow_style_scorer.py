"""MLflow-style scorers run unchanged as evaluators: the functions below are written as the
MLflow docs write custom ``@scorer`` functions (parameters ``inputs``, ``outputs``,
``expectations``, ``trace``; returning bool, number, "yes"/"no" or a ``Feedback``).

mlflow itself is not installed (far too heavy for a test), so two lines stand in for it:
the ``@scorer`` decorator is left off (evalstream wraps the plain function itself) and
``Feedback`` is a minimal class with MLflow's ``value`` and ``rationale`` attributes.
The scorers are loaded through real entry points: in-process via ``Registry``, and in a real
worker process from a distribution installed on its ``PYTHONPATH``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from evaluators import Registry
from evaluators.registry import ENTRY_POINT_GROUP
from pipeline.testing import run_evaluator


@dataclass
class Feedback:
    """Stand-in for ``mlflow.entities.Feedback``: what the outcome conventions read."""

    value: Any
    rationale: str | None = None


def exact_match(outputs: dict, expectations: dict) -> bool:
    return outputs == expectations["expected_response"]


def is_short(outputs: dict) -> Feedback:
    score = len(outputs.split()) <= 5
    rationale = (
        "The response is short enough."
        if score
        else f"The response is not short enough because it has ({len(outputs.split())} words)."
    )
    return Feedback(value=score, rationale=rationale)


def word_overlap(outputs, expectations) -> float:
    expected = set(expectations["expected_response"].lower().split())
    return len(expected & set(outputs.lower().split())) / max(len(expected), 1)


def my_scorer(inputs, outputs, expectations, trace):
    """All four parameters, answering with MLflow's yes/no vocabulary and a rationale."""
    question = inputs["question"] if isinstance(inputs, dict) else str(inputs)
    mentioned = expectations["expected_response"].lower() in outputs.lower()
    return Feedback(
        value="yes" if mentioned and trace is not None else "no",
        rationale=f"expected answer {'found' if mentioned else 'missing'} for {question!r}",
    )


ROOT = Path(__file__).resolve().parents[2]
SCORERS = [exact_match, is_short, word_overlap, my_scorer]
TRACES = [
    {
        "trace_id": "right",
        "inputs": {"question": "How many countries are there in the world?"},
        "outputs": "195",
        "expectations": {"expected_response": "195"},
    },
    {
        "trace_id": "wordy",
        "inputs": {"question": "What is the capital of France?"},
        "outputs": "The capital city of the country of France is Paris.",
        "expectations": {"expected_response": "Paris"},
    },
]
EXPECTED = {  # scorer -> (scores, passed, rationale fragment of the second trace)
    "exact_match": ([1.0, 0.0], [True, False], None),
    "is_short": ([1.0, 0.0], [True, False], "has (10 words)"),
    "word_overlap": ([1.0, 0.0], [True, False], None),
    "my_scorer": ([1.0, 1.0], [True, True], "found for 'What is the capital"),
}


def entry_points(module: str) -> list[EntryPoint]:
    return [
        EntryPoint(name=f.__name__, value=f"{module}:{f.__name__}", group=ENTRY_POINT_GROUP)
        for f in SCORERS
    ]


def check(name: str, scores: list, passed: list, rationales: list) -> None:
    want_scores, want_passed, fragment = EXPECTED[name]
    assert scores == pytest.approx(want_scores), name
    assert passed == want_passed, name
    if fragment:
        assert fragment in rationales[1], (name, rationales)


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda f: f.__name__)
def test_scorer_runs_through_the_test_harness(scorer):
    run = run_evaluator(scorer, TRACES)
    assert run.errors() == []
    check(
        scorer.__name__,
        run.scores,
        [r.passed for r in run.results],
        [r.rationale for r in run.results],
    )


def test_scorers_load_through_entry_points_and_run_by_name():
    registry = Registry().load_entry_points(entry_points(__name__))
    assert registry.errors == []
    assert registry.names() == sorted(f.__name__ for f in SCORERS)
    for name in registry.names():
        run = run_evaluator(name, TRACES, registry=registry)
        check(name, run.scores, [r.passed for r in run.results], [r.rationale for r in run.results])


def _install_scorer_distribution(root) -> None:
    """A real (if minimal) installed distribution: a module plus dist-info with entry points."""
    module = "mlflow_style_scorers"
    sources = [inspect.getsource(obj) for obj in (Feedback, *SCORERS)]
    header = "from dataclasses import dataclass\nfrom typing import Any\n\n\n"
    (root / f"{module}.py").write_text(header + "\n\n".join(sources), encoding="utf-8")
    info = root / "mlflow_style_scorers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mlflow-style-scorers\nVersion: 0.1\n", encoding="utf-8"
    )
    lines = [f"{p.name} = {p.value}" for p in entry_points(module)]
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )


def test_scorers_run_in_a_real_worker(kafka_bootstrap, new_topic, tmp_path):
    from kafka_helpers import produce  # tests/ helpers, on sys.path via the root conftest
    from worker_process import run_worker, worker_env

    site = tmp_path / "site"
    site.mkdir()
    _install_scorer_distribution(site)
    config = tmp_path / "evalstream.toml"
    config.write_text("".join(f"[evaluators.{f.__name__}]\n" for f in SCORERS), encoding="utf-8")
    topic = new_topic(partitions=1)
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in TRACES])
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "parquet",
        EVALSTREAM_CONFIG=str(config),
        PYTHONPATH=str(site),
    )
    stderr = run_worker(env)
    assert "evaluators: exact_match, is_short, word_overlap, my_scorer" in stderr

    frame = pd.read_parquet(tmp_path / "parquet").sort_values(["evaluator", "trace_id"])
    assert frame["error"].isna().all(), frame["error"].dropna().tolist()
    for name, rows in frame.groupby("evaluator"):
        rows = rows.set_index("trace_id").loc[["right", "wordy"]]
        check(name, rows["score"].tolist(), rows["passed"].tolist(), rows["rationale"].tolist())
