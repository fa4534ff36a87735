"""The plugin's own tests: three lines per case with evalstream's test harness, no Kafka."""

from evalstream_plugin_example import contains_citation

from pipeline.testing import run_evaluator

DOCS = ["Annual plans can be refunded within 30 days.", "Monthly plans are not refundable."]


def test_cited_uncited_and_invalid_answers():
    run = run_evaluator(
        contains_citation,
        [
            {"trace_id": "cited", "outputs": "Within 30 days [1].", "context": DOCS},
            {"trace_id": "uncited", "outputs": "Within 30 days.", "context": DOCS},
            {"trace_id": "invalid", "outputs": "See [7].", "context": DOCS},
        ],
    )
    assert [r.passed for r in run.results] == [True, False, False]
    assert [r.label for r in run.results] == ["cited", "uncited", "invalid_citation"]
    assert "cites 1 of 2" in run.results[0].rationale


def test_no_context_is_not_applicable():
    run = run_evaluator(contains_citation, [{"trace_id": "t", "outputs": "Hi [1]"}])
    assert run.results[0].score is None
    assert run.results[0].label == "not_applicable"


def test_min_citations_is_a_parameter():
    trace = {"trace_id": "t", "outputs": "Yes [1].", "context": DOCS}
    assert not run_evaluator(contains_citation, [trace], min_citations=2).results[0].passed


def test_installed_entry_point_is_discovered():
    from evaluators import discover

    registration = discover(allow=["contains_citation"]).get("contains_citation")
    assert registration.package == "evalstream-plugin-example"
    assert registration.parameters() == {"min_citations": 1}
