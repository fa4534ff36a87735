"""Exactly-once under SIGKILLs and a broker restart (see chaos.py; the big run is a benchmark)."""

from __future__ import annotations

import ast
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from chaos import EVALUATORS, SPANS, ChaosResult, run_chaos


def _evidence(workdir: Path) -> str:
    """On a failure: the worker logs copied where later runs do not replace them (pytest
    keeps three base directories), and their tails for the report."""
    keep = (
        Path.home()
        / ".cache"
        / "evalstream"
        / "chaos-failures"
        / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    )
    keep.mkdir(parents=True, exist_ok=True)
    tails = []
    for log in sorted(workdir.glob("worker-*.log")):
        shutil.copy(log, keep / log.name)
        tails.append(f"--- {log.name} (last 1500 characters)\n{log.read_text()[-1500:]}")
    return f"worker logs kept in {keep}\n" + "\n".join(tails)


def test_kills_and_a_broker_restart_leave_exactly_one_result_per_trace(tmp_path):
    """...and exactly one traces row per trace and one spans row per span."""
    result = run_chaos(tmp_path, traces=5000, kills=3)
    _assert_exactly_once(result, tmp_path, kills=3)


def _chaos_from_memory(tmp_path: Path, **kwargs: Any) -> tuple[ChaosResult, list[int]]:
    """A chaos run with EVALSTREAM_PARQUET_FROM=memory: its result, and for each assignment the
    offsets its recovery had to read back (end - committed, summed over the scored
    partitions; a partition flushed and committed to its end shows 1 there, its commit
    marker), from the workers' logs."""
    result = run_chaos(tmp_path, parquet_from="memory", log_level="INFO", **kwargs)
    logs = "".join(log.read_text() for log in sorted(tmp_path.glob("worker-*.log")))
    starts = re.findall(r"scored partitions read back \(committed -> end\): (\{.*\})", logs)
    assert starts, "no worker took its Parquet rows from memory"
    gaps = [sum(end - done for done, end in ast.literal_eval(s).values()) for s in starts]
    return result, gaps


def _assert_exactly_once(result: ChaosResult, tmp_path: Path, kills: int) -> None:
    """5,000 traces through ``kills`` SIGKILLs: every count exact, the logs kept on failure."""
    try:
        assert result.kills == kills
        assert result.duplicate_pairs == 0
        assert result.distinct_traces == 5000
        assert result.parquet_rows == 5000 * EVALUATORS
        assert result.scored_distinct == 5000
        assert result.scored_messages == 5000
        assert (result.trace_rows, result.trace_duplicates) == (5000, 0)
        assert (result.span_rows, result.span_duplicates) == (5000 * SPANS, 0)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{result}\n{_evidence(tmp_path)}") from failure


def test_kills_and_a_broker_restart_with_parquet_rows_from_memory(tmp_path):
    """EVALSTREAM_PARQUET_FROM=memory: rows from the committed batches, the scored topic read
    only to recover what a kill left unwritten (pipeline/worker/parquet_memory.py); the same
    counts: every committed scored trace in Parquet exactly once."""
    result, _ = _chaos_from_memory(tmp_path, traces=5000, kills=3)
    _assert_exactly_once(result, tmp_path, kills=3)


def test_kills_before_any_parquet_flush_are_recovered_from_the_scored_topic(tmp_path):
    """The killed workers commit scored traces but never write Parquet (a flush every 10
    minutes): every committed row is missing when the final worker starts, which reads them
    back from the scored topic below the hand-over offset and takes its own from memory."""
    never = {"EVALSTREAM_PARQUET_FLUSH_SECONDS": "600", "EVALSTREAM_PARQUET_FLUSH_ROWS": "10000000"}
    result, gaps = _chaos_from_memory(
        tmp_path, traces=5000, kills=2, killed_env=never, commits_before_kill=200
    )
    assert max(gaps) > 100, gaps  # the kills left committed rows unwritten: read back
    _assert_exactly_once(result, tmp_path, kills=2)


@pytest.mark.slow
def test_kills_and_a_broker_restart_with_s3_output(tmp_path, s3_server, s3_root):
    """The same run with the datasets in a bucket of the local S3 server: 0 lost, 0 doubled."""
    result = run_chaos(
        tmp_path, traces=5000, kills=3, parquet_root=s3_root, storage_env=s3_server.env()
    )
    print(f"chaos on S3: {result}")
    assert result.kills == 3
    assert result.duplicate_pairs == 0
    assert result.distinct_traces == 5000
    assert result.parquet_rows == 5000 * EVALUATORS
    assert result.scored_distinct == 5000
    assert result.scored_messages == 5000


@pytest.mark.slow
def test_kills_and_a_broker_restart_with_delta_tables(tmp_path):
    """The same with EVALSTREAM_TABLE_FORMAT=delta, read back with deltalake."""
    result = run_chaos(tmp_path, traces=5000, kills=3, table_format="delta")
    assert result.kills == 3
    assert (result.parquet_rows, result.duplicate_pairs) == (5000 * EVALUATORS, 0)
    assert result.distinct_traces == 5000
    assert (result.scored_messages, result.scored_distinct) == (5000, 5000)
    assert (result.trace_rows, result.trace_duplicates) == (5000, 0)
    assert (result.span_rows, result.span_duplicates) == (5000 * SPANS, 0)


@pytest.mark.slow
def test_kills_and_a_broker_restart_with_delta_tables_on_s3(tmp_path, s3_server, s3_root):
    """Delta tables in a bucket of the local S3 server, under the same kills."""
    result = run_chaos(
        tmp_path, traces=5000, kills=3, parquet_root=s3_root, storage_env=s3_server.env(),
        table_format="delta",
    )  # fmt: skip
    assert (result.parquet_rows, result.duplicate_pairs) == (5000 * EVALUATORS, 0)
    assert (result.scored_messages, result.scored_distinct) == (5000, 5000)
    assert (result.trace_rows, result.trace_duplicates) == (5000, 0)
    assert (result.span_rows, result.span_duplicates) == (5000 * SPANS, 0)
