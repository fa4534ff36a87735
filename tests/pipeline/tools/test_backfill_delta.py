"""`evalstream backfill` into Delta tables through a real broker: each chunk replaces its
own rows in one commit per table, so a re-run adds nothing, a re-run with other evaluators
replaces the scores, and a wider re-run fills what the first one did not cover."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable
from test_backfill import backfill, env, topic_with_traces  # noqa: F401  (fixtures)

from pipeline.sinks.delta_backfill import last_backfilled, range_predicate

SUBSET = ["--evaluators", "latency,error"]


def table(root) -> DeltaTable:
    return DeltaTable(str(root))


def test_rerun_is_idempotent_and_replaces_scores(env, topic_with_traces, tmp_path):  # noqa: F811
    root = tmp_path / "bf" / "parquet"
    delta_env = env | {"EVALSTREAM_TABLE_FORMAT": "delta", "EVALSTREAM_STORE_TRACES": "true"}
    args = ["--from-topic", topic_with_traces, "--parquet-dir", str(root), "--chunk-size", "25"]
    first = backfill(delta_env, *args, "--start-offset", "10", *SUBSET)
    assert first.exit_code == 0, first.output
    assert "read 61, scored 60, bad 1" in first.stdout and "Delta commits" in first.stdout
    rows = table(root).to_pandas()
    assert len(rows) == 60 * 2 and set(rows["evaluator"]) == {"latency", "error"}
    assert not rows.duplicated(["trace_id", "evaluator"]).any()
    assert rows.groupby("kafka_partition")["kafka_offset"].min().to_dict() == {0: 10, 1: 10}
    assert last_backfilled(root, topic_with_traces, 0) == 60
    assert last_backfilled(root, topic_with_traces, 1) == 19
    traces = table(root.parent / "traces").to_pandas()
    assert len(traces) == 60 and traces["trace_id"].is_unique
    version = table(root).version()

    again = backfill(delta_env, *args, "--start-offset", "10", *SUBSET)
    assert again.exit_code == 0, again.output
    rows_again = table(root).to_pandas()
    assert len(rows_again) == 60 * 2 and not rows_again.duplicated(["trace_id", "evaluator"]).any()
    assert table(root).version() > version  # committed again, replacing its own rows
    assert len(table(root.parent / "traces").to_pandas()) == 60

    # Wider (from offset 0) and with another evaluator: the covered ranges hold only the new
    # scores, and offsets 0..9 the first runs never read are there now.
    wider = backfill(delta_env, *args, "--evaluators", "token_usage")
    assert wider.exit_code == 0, wider.output
    rows = table(root).to_pandas()
    assert set(rows["evaluator"]) == {"token_usage"}
    assert len(rows) == 80 and rows["trace_id"].is_unique
    assert rows.groupby("kafka_partition")["kafka_offset"].min().to_dict() == {0: 0, 1: 0}
    traces = table(root.parent / "traces").to_pandas()
    assert len(traces) == 80 and traces["trace_id"].is_unique


def test_backfill_into_an_existing_delta_table_needs_no_setting(env, topic_with_traces, tmp_path):  # noqa: F811
    """A root that is a Delta table is written as one even without EVALSTREAM_TABLE_FORMAT,
    never with Parquet files a Delta reader would not see."""
    root = tmp_path / "bf" / "parquet"
    args = ["--from-topic", topic_with_traces, "--parquet-dir", str(root), *SUBSET]
    made = backfill(env | {"EVALSTREAM_TABLE_FORMAT": "delta"}, *args, "--start-offset", "50")
    assert made.exit_code == 0, made.output
    plain = backfill(env, *args)
    assert plain.exit_code == 0, plain.output
    rows = table(root).to_pandas()
    assert len(rows) == 80 * 2 and not rows.duplicated(["trace_id", "evaluator"]).any()
    assert not any(p.name.startswith("backfill-") for p in root.rglob("*.parquet"))


def test_backfill_into_a_table_whose_first_commit_was_killed(env, topic_with_traces, tmp_path):  # noqa: F811
    """A ``_delta_log`` without a commit (a first commit killed, or in progress elsewhere)
    is a Delta root deltalake cannot open ("No files in log segment"): backfill writes the
    first commit there instead of failing, without EVALSTREAM_TABLE_FORMAT."""
    root = tmp_path / "bf" / "parquet"
    (root / "_delta_log").mkdir(parents=True)
    (root / "_delta_log" / "_commit_5d1e0c9b-2a3f-4b6c-8d7e-9f0a1b2c3d4e.json.tmp").write_text("{}")
    done = backfill(env, "--from-topic", topic_with_traces, "--parquet-dir", str(root), *SUBSET)
    assert done.exit_code == 0, done.output
    rows = table(root).to_pandas()
    assert len(rows) == 80 * 2 and not rows.duplicated(["trace_id", "evaluator"]).any()
    assert not any(p.name.startswith("backfill-") for p in root.rglob("*.parquet"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [("t", "kafka_topic = 't' AND kafka_partition = 2 AND kafka_offset >= 5 AND kafka_offset <= 9"),
     ("file:o'k.jsonl", "kafka_topic = 'file:o''k.jsonl' AND kafka_partition = 2"
      " AND kafka_offset >= 5 AND kafka_offset <= 9")],
)  # fmt: skip
def test_range_predicate_quotes_the_source(source, expected):
    assert range_predicate(source, 2, 5, 9) == expected
