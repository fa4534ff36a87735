"""The API over the datasets a real worker wrote after reading a real broker: from a failing
correctness result to the stored trace (question, answer, context, spans)."""

from __future__ import annotations

import orjson
import pandas as pd
from kafka_helpers import produce
from ui_helpers import make_client
from worker_process import run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces


def test_api_over_a_real_workers_results(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    traces = {t["trace_id"]: t for t in sample_traces(300, seed=23)}
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces.values()])
    parquet_dir = tmp_path / "parquet"
    run_worker(worker_env(kafka_bootstrap, topic, parquet_dir))
    frame = pd.read_parquet(parquet_dir)
    failed = frame[(frame["evaluator"] == "correctness") & (frame["passed"] == False)]  # noqa: E712
    assert len(failed) > 0

    with make_client(parquet_dir) as client:
        health = client.get("/health").json()
        with_spans = any(t.get("spans") for t in traces.values())  # the samples carry none
        assert health["datasets"] == {"results": True, "traces": True, "spans": with_spans}
        page = client.get("/api/traces?evaluator=correctness&passed=false&limit=500").json()
        assert page["total"] == failed["trace_id"].nunique()
        assert {t["trace_id"] for t in page["traces"]} == set(failed["trace_id"])
        assert page["content_stored"] is True
        everything = client.get("/api/traces?limit=500").json()
        assert everything["total"] == 300

        trace_id = failed.sort_values("trace_id")["trace_id"].iloc[0]
        detail = client.get(f"/api/traces/{trace_id}").json()
        stored = frame[frame["trace_id"] == trace_id]
        assert sorted(r["evaluator"] for r in detail["results"]) == sorted(stored["evaluator"])
        mine = next(r for r in detail["results"] if r["evaluator"] == "correctness")
        row = stored[stored["evaluator"] == "correctness"].iloc[0]
        assert mine["passed"] is False and mine["rationale"] == row["rationale"]
        assert detail["kafka_topic"] == topic and detail["kafka_offset"] == row["kafka_offset"]
        assert detail["content_stored"] is True
        sent = traces[trace_id]
        assert detail["inputs"] == sent["inputs"] and detail["outputs"] == sent["outputs"]
        assert detail["context"] == sent.get("context")
        assert len(detail["spans"]) == len(sent.get("spans") or [])

        html = client.get(f"/traces/{trace_id}").text
        assert "Trace content is not stored" not in html and "correctness" in html
        overview = client.get("/api/overview").json()
        assert overview["totals"]["traces"] == 300
