"""Context sufficiency: trace context, retriever spans (one result per span), expectations."""

from __future__ import annotations

from evaluators.builtin.context_sufficiency import ContextSufficiencyEvaluator
from schemas import Trace

CONTEXT = (
    "The Normans were the people who in the 10th and 11th centuries gave their name to "
    "Normandy, a region in France. Their leader Rollo swore fealty to King Charles III of "
    "West Francia in 911."
)
UNRELATED = "Photosynthesis converts light energy into chemical energy in green plants."
QUESTION = "In what year did Rollo swear fealty to King Charles III?"


def trace(**kw) -> Trace:
    return Trace(trace_id=kw.pop("trace_id", "t"), **kw)


def test_sufficient_vs_unrelated_context():
    ev = ContextSufficiencyEvaluator()
    good = ev.evaluate(trace(inputs={"question": QUESTION}, context=[CONTEXT]))
    bad = ev.evaluate(trace(inputs={"question": QUESTION}, context=[UNRELATED]))
    assert good.score >= 0.5 > bad.score
    assert "missing" in bad.rationale and good.span_id is None


def test_expected_facts_missing_from_context_fail():
    ev = ContextSufficiencyEvaluator()
    exp = {"expected_facts": ["Rollo swore fealty in 911"]}
    ok = ev.evaluate(trace(inputs=QUESTION, context=[CONTEXT], expectations=exp))
    missing = ev.evaluate(
        trace(inputs=QUESTION, context=[CONTEXT.replace("911", "an unknown year")],
              expectations={"expected_facts": ["The treaty of Saint-Clair-sur-Epte, 911"]})
    )  # fmt: skip
    assert ok.metadata["facts_found"] == 1 and ok.score >= 0.5
    assert missing.metadata["facts_found"] == 0 and missing.score < 0.5


def test_one_result_per_retriever_span():
    ev = ContextSufficiencyEvaluator()
    spans = [
        {"span_id": "r1", "span_type": "RETRIEVER", "outputs": [{"page_content": CONTEXT}]},
        {"span_id": "llm", "span_type": "LLM", "outputs": "whatever"},
        {"span_id": "r2", "span_type": "RETRIEVER", "outputs": [{"text": UNRELATED}]},
        {"span_id": "r3", "span_type": "retriever", "outputs": []},
    ]
    results = ev.evaluate(
        trace(inputs={"messages": [{"role": "user", "content": QUESTION}]}, spans=spans)
    )
    assert [r.span_id for r in results] == ["r1", "r2", "r3"]
    assert results[0].score > results[1].score and results[2].score == 0.0


def test_not_applicable_and_edge_cases():
    ev = ContextSufficiencyEvaluator()
    assert ev.evaluate(trace(inputs=QUESTION)) is None
    assert ev.evaluate(trace(inputs=None, context=[CONTEXT])) is None
    long_ctx = CONTEXT + " " + "Unrelated filler text goes here again. " * 6000
    assert len(long_ctx) > 200_000
    assert ev.evaluate(trace(inputs=QUESTION, context=[long_ctx])).score >= 0.5
    r = ev.evaluate(trace(inputs="¿En qué año juró Rollo lealtad?", context=["Rollo juró en 911."]))
    assert 0.0 <= r.score <= 1.0


def test_batch_equals_single():
    ev = ContextSufficiencyEvaluator()
    traces = [
        trace(trace_id="a", inputs=QUESTION, context=[CONTEXT]),
        trace(trace_id="b", inputs=QUESTION, context=[UNRELATED]),
        trace(trace_id="c", inputs=QUESTION),
        trace(trace_id="d", inputs=QUESTION, spans=[
            {"span_id": "r1", "span_type": "RETRIEVER", "outputs": [CONTEXT]}]),
    ]  # fmt: skip
    assert ev.evaluate_batch(traces) == [ev.evaluate(t) for t in traces]


def _score(question: str, context: str = CONTEXT) -> float:
    return ContextSufficiencyEvaluator().evaluate(trace(inputs=question, context=[context])).score


def test_swapped_detail_scores_lower_than_the_answerable_question():
    # a name, a number, a place the best sentence does not pair with the rest
    assert _score(QUESTION) >= 0.5
    assert _score(QUESTION.replace("Rollo", "Hastein")) < _score(QUESTION)
    assert _score(QUESTION.replace("Charles", "Louis")) < _score(QUESTION)
    in_911 = "Who swore fealty to King Charles III in 911?"
    assert _score(in_911) >= 0.5 > _score(in_911.replace("911", "915"))
    region = "In which region of France did the Normans give their name?"
    assert _score(region.replace("France", "Germany")) < _score(region)


def test_negation_and_antonym_mismatch_score_lower():
    assert _score("Who did not swear fealty to King Charles III?") < 0.5
    ctx = "The first emperor of the dynasty was a competent ruler who reformed the army."
    first = "Who was the first emperor of the dynasty?"
    assert _score(first.replace("first", "last"), ctx) < _score(first, ctx)


def test_alignment_features():
    from evaluators.builtin._sufficiency_features import sufficiency_features

    ctx = [CONTEXT]
    ok, _ = sufficiency_features("Who swore fealty to King Charles III in 911?", ctx)
    swapped, _ = sufficiency_features("Who swore fealty to King Charles III in 915?", ctx)
    assert ok["number_swap"] == 0.0 and swapped["number_swap"] == 1.0
    assert swapped["window_fuzzy_idf"] < ok["window_fuzzy_idf"]
    dep = "The bounds are independent of the specific details of the model."
    f, ev = sufficiency_features("What makes the bounds dependent on the model?", [dep])
    assert f["antonym_swap"] == 1.0 and ev.best_sentence == dep
    f, _ = sufficiency_features("What makes the bounds independent of the model?", [dep])
    assert f["antonym_swap"] == 0.0
    f, _ = sufficiency_features("When did the strong force act?", ["The weak force acted in 1990."])
    assert f["antonym_swap"] == 1.0 and f["answer_candidate"] == 1.0
    f, _ = sufficiency_features("Who did not swear fealty?", ctx)
    assert f["negation_added"] == 1.0
