"""Results of span-targeted evaluators (``apply_to``) are shown on their span: in the trace
page's waterfall and under the span in ``evalstream trace show``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner
from ui_helpers import make_client

from evaluators import EvaluationRunner
from evaluators.builtin.operational import LatencyEvaluator
from evaluators.runner import ConfiguredEvaluator
from evaluators.targeting import SpanTarget
from pipeline.cli import app
from pipeline.tools.ui.testing import with_spans, write_datasets
from schemas import Trace


class SpanLatency(LatencyEvaluator):
    name = "span_latency"


@pytest.fixture(scope="module")
def span_results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trace = with_spans(
        {
            "trace_id": "tr-agent",
            "timestamp": datetime(2026, 11, 25, 10, 0, tzinfo=UTC).isoformat(),
            "inputs": {"question": "q"},
            "outputs": "a",
            "latency_ms": 1000.0,
            "tags": {"app": "agent"},
        },
        0,
    )
    model = Trace.model_validate(trace)
    runner = EvaluationRunner(
        [
            ConfiguredEvaluator(LatencyEvaluator(slo_ms=5000), threshold=1.0),
            ConfiguredEvaluator(
                SpanLatency(slo_ms=100),  # the LLM span takes 700 ms: fails
                threshold=1.0,
                apply_to=SpanTarget(span_type=["LLM", "RETRIEVER"]),
            ),
        ]
    )
    try:
        [results] = runner.score([model])
    finally:
        runner.close()
    assert [r.span_id for r in results] == [None, "tr-agent-retrieve", "tr-agent-llm"]
    root = tmp_path_factory.mktemp("ui-spans") / "parquet"
    write_datasets(root, [(model, results)])
    return root


def _span_block(page: str, span_id: str) -> str:
    match = re.search(rf'<details class="span" id="span-{span_id}">(.*?)</details>', page, re.S)
    assert match, f"no span block {span_id}"
    return match.group(1)


def test_trace_page_shows_span_results_on_their_span(span_results_dir: Path) -> None:
    with make_client(span_results_dir) as client:
        page = client.get("/traces/tr-agent").text
    llm = _span_block(page, "tr-agent-llm")
    assert 'class="chip fail"' in llm and "span_latency failed" in llm
    assert "700 ms vs SLO 100 ms" in llm  # the rationale, in the span's own results table
    retrieve = _span_block(page, "tr-agent-retrieve")
    assert "span_latency failed" in retrieve and "300 ms vs SLO 100 ms" in retrieve
    root = _span_block(page, "tr-agent-root")
    assert "span_latency" not in root and "latency passed" not in root  # trace-level stays up
    assert '<a href="#span-tr-agent-llm">span tr-agent-llm</a>' in page


def test_trace_show_prints_span_results_under_the_span(span_results_dir: Path) -> None:
    done = CliRunner().invoke(
        app,
        ["trace", "show", "tr-agent", "--data-dir", str(span_results_dir)],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    tree = lines[next(i for i, line in enumerate(lines) if line == "spans") :]
    retrieve = next(i for i, line in enumerate(tree) if "retrieve RETRIEVER" in line)
    llm = next(i for i, line in enumerate(tree) if "chat_completion LLM" in line)
    results = [(i, line) for i, line in enumerate(tree) if "span_latency" in line]
    assert len(results) == 2
    (first, after_retrieve), (second, after_llm) = results
    assert retrieve < first < llm < second  # each under its own span
    assert "span_latency failed 0.333 over_slo 300 ms vs SLO 100 ms" in after_retrieve
    assert "span_latency failed 0.143 over_slo 700 ms vs SLO 100 ms" in after_llm
