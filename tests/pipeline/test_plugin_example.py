"""The example plugin (examples/evalstream-plugin-example), installed with pip, runs in a
real worker when the evaluator TOML names it, and its rows land in Parquet."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

import orjson
import pandas as pd
import pytest
from kafka_helpers import produce
from worker_process import run_worker, worker_env

try:
    distribution("evalstream-plugin-example")
except PackageNotFoundError:
    pytest.skip(
        "evalstream-plugin-example is not installed;"
        " run `pip install -e examples/evalstream-plugin-example`",
        allow_module_level=True,
    )

DOCS = ["Annual plans can be refunded within 30 days.", "Monthly plans are not refundable."]
TRACES = [
    {"trace_id": "cited", "outputs": "Within 30 days [1].", "context": DOCS},
    {"trace_id": "uncited", "outputs": "Within 30 days.", "context": DOCS},
    {"trace_id": "invalid", "outputs": "See [9].", "context": DOCS},
    {"trace_id": "no-context", "outputs": "Hello!"},
]


def test_worker_runs_the_installed_plugin(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=1)
    produce(kafka_bootstrap, topic, [orjson.dumps({**t, "status": "OK"}) for t in TRACES])
    config = tmp_path / "evalstream.toml"
    config.write_text(
        "[evaluators.contains_citation]\nparams = { min_citations = 1 }\n\n[evaluators.latency]\n",
        encoding="utf-8",
    )
    parquet = tmp_path / "parquet"
    stderr = run_worker(worker_env(kafka_bootstrap, topic, parquet, EVALSTREAM_CONFIG=str(config)))
    assert "evaluators: contains_citation, latency" in stderr

    frame = pd.read_parquet(parquet)
    rows = frame[frame["evaluator"] == "contains_citation"].set_index("trace_id")
    assert sorted(rows.index) == sorted(t["trace_id"] for t in TRACES)
    assert rows.loc["cited", "passed"]
    assert not rows.loc["uncited", "passed"]
    assert rows.loc["invalid", "label"] == "invalid_citation"
    assert rows.loc["no-context", "label"] == "not_applicable"
    assert set(rows["evaluator_version"]) == {"1"}
    assert rows["error"].isna().all()
