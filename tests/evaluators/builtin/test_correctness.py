"""Correctness: reference mode, groundedness mode, not applicable, odd inputs, shipped models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluators import EvaluatorConfig, Registry, build_evaluators
from evaluators.builtin._quality_model import MODELS_DIR
from evaluators.builtin.correctness import CorrectnessEvaluator
from evaluators.runner import EvaluationRunner
from evaluators.training import datasets
from schemas import ResultSource, Trace

CONTEXT = (
    "The Normans were the people who in the 10th and 11th centuries gave their name to "
    "Normandy, a region in France. Their leader Rollo swore fealty to King Charles III."
)


def trace(outputs, **kw) -> Trace:
    return Trace(trace_id=kw.pop("trace_id", "t"), outputs=outputs, **kw)


def test_reference_pass_and_fail():
    ev = CorrectnessEvaluator()
    exp = {"expected_response": "France"}
    good = ev.evaluate(trace("Normandy is a region in France.", expectations=exp))
    bad = ev.evaluate(trace("It is in Germany.", expectations=exp))
    assert good.score >= 0.5 > bad.score
    assert good.metadata["mode"] == bad.metadata["mode"] == "reference"
    assert "France" in good.rationale and "missing" in bad.rationale


def test_expected_facts_coverage():
    ev = CorrectnessEvaluator()
    facts = {"expected_facts": ["Rollo was the leader", "the 10th century"]}
    full = ev.evaluate(trace("Rollo was their leader, in the 10th century.", expectations=facts))
    half = ev.evaluate(trace("Rollo was their leader.", expectations=facts))
    assert full.metadata["facts_covered"] == 2
    assert half.metadata["facts_covered"] == 1 and half.score < full.score


def test_groundedness_mode():
    ev = CorrectnessEvaluator()
    q = {"question": "Who was the leader of the Normans?"}
    good = ev.evaluate(trace("Rollo", inputs=q, context=[CONTEXT]))
    bad = ev.evaluate(
        trace("William the Conqueror, crowned in 1066 in London.", inputs=q, context=[CONTEXT])
    )
    assert good.metadata["mode"] == "groundedness" and good.score >= 0.5 > bad.score
    assert "not in context" in bad.rationale


def test_groundedness_from_retriever_span_and_chat_shapes():
    ev = CorrectnessEvaluator()
    t = Trace(
        trace_id="t",
        inputs={"messages": [{"role": "user", "content": "Who was the leader of the Normans?"}]},
        outputs={"choices": [{"message": {"role": "assistant", "content": "Rollo"}}]},
        spans=[{"span_id": "s1", "span_type": "RETRIEVER", "outputs": [{"page_content": CONTEXT}]}],
    )
    assert ev.evaluate(t).score >= 0.5


def test_not_applicable_and_edge_cases():
    ev = CorrectnessEvaluator()
    assert ev.evaluate(trace("anything")) is None
    empty = ev.evaluate(trace("", expectations={"expected_response": "France"}))
    assert empty.score == 0.0 and empty.label == "empty_output"
    odd = ev.evaluate(trace({"weird": [1, None]}, expectations={"expected_response": "France"}))
    assert 0.0 <= odd.score <= 1.0
    french = ev.evaluate(
        trace("La Normandie est en France.", expectations={"expected_response": "France"})
    )
    assert french.score >= 0.5
    long_ctx = [CONTEXT + " " + "Filler sentence about nothing in particular. " * 4500]
    assert len(long_ctx[0]) > 200_000
    result = ev.evaluate(trace("Rollo", inputs="Who led the Normans?", context=long_ctx))
    assert result.score >= 0.5


def test_batch_equals_single():
    ev = CorrectnessEvaluator()
    traces = [
        trace("France", trace_id="a", expectations={"expected_response": "France"}),
        trace("Spain", trace_id="b", expectations={"expected_facts": ["France"]}),
        trace("Rollo", trace_id="c", inputs="Who led them?", context=[CONTEXT]),
        trace("x", trace_id="d"),
    ]
    assert ev.evaluate_batch(traces) == [ev.evaluate(t) for t in traces]


def test_runs_through_runner():
    registry = Registry()
    registry.register(CorrectnessEvaluator)
    config = EvaluatorConfig.model_validate({"evaluators": {"correctness": {}}})
    runner = EvaluationRunner(build_evaluators(config, registry))
    try:
        rows = runner.score([trace("France", expectations={"expected_response": "France"})] * 3)
    finally:
        runner.close()
    assert all(r[0].passed and r[0].error is None for r in rows)


def test_llm_backend_is_lazy_and_validated():
    ev = CorrectnessEvaluator(backend="llm", judge={"model": "x"})
    assert ev.source is ResultSource.LLM_JUDGE and ev._judge is None
    with pytest.raises(ValueError):
        CorrectnessEvaluator(backend="gpu")


def test_shipped_models_are_plain_json_and_npz():
    import numpy as np

    files = sorted(MODELS_DIR.iterdir())
    assert {p.suffix for p in files} <= {".json", ".npz"}
    for path in files:
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict)
        else:
            with np.load(path, allow_pickle=False) as arrays:  # raises if pickled objects
                assert set(arrays.files) == {"indices", "values"}


@pytest.mark.slow
@pytest.mark.skipif(not datasets.available(), reason="shared datasets not present")
def test_retraining_is_deterministic(tmp_path: Path):
    root = Path(__file__).resolve().parents[3]
    subprocess.run(
        [sys.executable, "-m", "evaluators.training.train_quality", "all", "--out", str(tmp_path)],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    for path in sorted(MODELS_DIR.iterdir()):
        if path.stem.endswith("_encoder"):
            continue  # the encoder heads: tests/evaluators/training/test_train_encoder.py
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.skipif(not datasets.available(), reason="shared datasets not present")
def test_retraining_one_model_is_deterministic(tmp_path: Path):
    """The quick version of the slow test above: one small model, byte-identical."""
    from evaluators.training import train_quality

    assert train_quality.main(["refusal", "--out", str(tmp_path)]) == 0
    for name in ("safety_refusal.json", "safety_refusal.npz"):
        assert (tmp_path / name).read_bytes() == (MODELS_DIR / name).read_bytes()


MUSEUM = (
    "The museum opens at 9 am and closes at 6 pm from Tuesday to Sunday. Admission costs 14 "
    "euros for adults; children under 12 enter free. The museum was designed by the architect "
    "Renzo Piano."
)


def test_reference_paraphrased_sentences():
    """Full, reworded sentence answers: right passes, near-miss number / other name fail."""
    ev = CorrectnessEvaluator()

    def score(q: str, expected: str, out: str) -> float:
        exp = {"expected_response": expected}
        return ev.evaluate(trace(out, inputs={"question": q}, expectations=exp)).score

    q, expected = "How much is admission for adults?", "Admission costs 14 euros for adults."
    assert score(q, expected, "Adults pay 14 euros to get in.") >= 0.5
    assert score(q, expected, "Adults pay 140 euros to get in.") < 0.5
    assert score(q, expected, "Adults pay 12 euros to get in.") < 0.5
    q, expected = "Who designed the museum?", "Renzo Piano designed it."
    assert score(q, expected, "It was designed by Renzo Piano.") >= 0.5
    assert score(q, expected, "It was designed by Frank Gehry.") < 0.5


def test_groundedness_paraphrased_sentences():
    """Context only: a supported sentence scores above its near-miss and wrong-name twins."""
    ev = CorrectnessEvaluator()

    def score(q: str, out: str) -> float:
        return ev.evaluate(trace(out, inputs={"question": q}, context=[MUSEUM])).score

    q = "How much is admission for adults?"
    right = score(q, "Adults pay 14 euros to get in.")
    assert right >= 0.5
    assert score(q, "Adults pay 140 euros to get in.") < 0.5 <= right
    q = "Who designed the museum?"
    assert score(q, "The architect behind the museum is Renzo Piano.") >= 0.5
    assert score(q, "It was designed by Frank Gehry.") < 0.5
