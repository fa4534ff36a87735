"""``evalstream report``: the numbers, the page, and the page as headless Chromium draws it.

The dataset is written with the Parquet contract (``schemas.arrow_schema``, ``date=/hour=``
directories) from real evaluator results, so the test needs no broker. The browser part
skips cleanly where Chromium is not installed (``make browser`` installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluators import evaluator
from pipeline.cli.report import report as report_cli
from pipeline.testing import run_evaluator
from pipeline.tools.demo.samples import sample_traces
from pipeline.tools.report import data
from pipeline.tools.report.html import CSP, render, report_command
from schemas import PARQUET_COLUMNS, arrow_schema

EVALUATORS = ("latency", "error", "cost", "correctness")
TRACES = list(sample_traces(240, start=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                            spread_seconds=3 * 3600))  # fmt: skip


@evaluator(name="flaky")
def flaky(trace) -> bool:
    """Raises for every fifth trace, so the report has evaluator errors to show."""
    if int(trace.trace_id[-1]) % 5 == 0:
        raise RuntimeError("judge backend unavailable")
    return True


def _rows(traces=TRACES, evaluators=EVALUATORS) -> list[dict]:
    rows = []
    for name in (*evaluators, flaky):
        run = run_evaluator(name, traces)
        for offset, (trace, results) in enumerate(zip(run.traces, run.per_trace, strict=True)):
            for r in results:
                rows.append({
                    "trace_id": trace.trace_id, "timestamp": trace.timestamp, "app": trace.app,
                    "model": trace.model, "status": trace.status.value,
                    "latency_ms": trace.latency_ms, "input_tokens": trace.input_tokens,
                    "output_tokens": trace.output_tokens, "cost_usd": 0.001,
                    "evaluator": r.evaluator, "evaluator_version": r.evaluator_version,
                    "score": r.score, "passed": r.passed, "label": r.label,
                    "rationale": r.rationale, "error": r.error, "eval_latency_ms": r.latency_ms,
                    "source": r.source.value, "span_id": r.span_id,
                    "metadata_json": orjson.dumps(r.metadata).decode(),
                    "kafka_topic": "traces", "kafka_partition": 0, "kafka_offset": offset,
                    "schema_version": 1, "trace_version": 1,
                })  # fmt: skip
    return rows


def write_dataset(root: Path, rows: list[dict]) -> Path:
    """Hive-partitioned like the sink writes it (one hour per directory, one date here)."""
    for hour in sorted({r["timestamp"].strftime("%H") for r in rows}):
        part = [r for r in rows if r["timestamp"].strftime("%H") == hour]
        table = pa.Table.from_pylist(
            [{name: r[name] for name, _, _ in PARQUET_COLUMNS} for r in part], arrow_schema()
        )
        directory = root / "date=2026-11-25" / f"hour={hour}"
        directory.mkdir(parents=True)
        pq.write_table(table, directory / f"traces-p0-o{hour}.parquet")
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("parquet"), _rows())


def test_aggregations(dataset):
    rows = data.load(dataset)
    assert data.bucket_for(rows) == ("5min", 300)
    summary = data.evaluator_summary(rows)
    assert sorted(summary.index) == sorted((*EVALUATORS, "flaky"))
    assert 0 < summary.loc["flaky", "error_rate"] < 1
    assert summary.loc["latency", "error_rate"] == 0
    hist = data.score_histograms(rows)
    assert sum(hist["latency"]) == len(TRACES)
    rates = data.pass_rate_over_time(rows, "5min")
    assert all(0 <= y <= 1 for points in rates.values() for _, y in points)
    worst = data.worst(rows)
    assert len(worst) == 25 and worst["failures"].is_monotonic_decreasing


def test_page_is_self_contained(dataset, tmp_path):
    out = tmp_path / "sub" / "report.html"
    report_command(dataset, out)
    page = out.read_text(encoding="utf-8")
    assert CSP in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "external resource"
    assert "<script" not in page
    assert page.count("<svg") >= 10
    for name in (*EVALUATORS, "flaky"):
        assert name in page
    worst_id = data.worst(data.load(dataset)).iloc[0]["trace_id"]
    assert worst_id in page and "judge backend unavailable" in page


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(data.ReportError, match=r"no \.parquet files"):
        render(tmp_path)
    with pytest.raises(data.ReportError, match="not a directory"):
        render(tmp_path / "missing")


def test_typer_command_writes_the_file(dataset, tmp_path):
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command("report")(report_cli)
    app.command("noop")(lambda: None)  # two commands, so "report" is a sub-command
    out = tmp_path / "r.html"
    done = CliRunner().invoke(app, ["report", str(dataset), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert out.stat().st_size > 10_000


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND"]  # fmt: skip
# (the resolver rule keeps the test offline even if the page did try to fetch something)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested, from Chromium's net log.

    Chromium's own background requests (update checks) carry the initiator "not an origin";
    requests made by a file:// page carry "null". Only the latter are the page's.
    """
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    starts = [e.get("params", {}) for e in log["events"] if e["type"] == start_job]
    return [
        p["url"]
        for p in starts
        if "url" in p
        and p.get("initiator") != "not an origin"
        and not p["url"].startswith(("file:", "data:"))
    ]


def test_page_requests_detects_external_resources(tmp_path):
    """The detector itself: a page with an external image and script is caught."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (run `make browser`)")
    page = tmp_path / "ext.html"
    page.write_text('<img src="http://example.invalid/x.png">', encoding="utf-8")
    net_log = tmp_path / "net.json"
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--log-net-log={net_log}", "--dump-dom", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert page_requests(net_log) == ["http://example.invalid/x.png"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (run `make browser`)")
def test_chromium_draws_every_plot_offline(dataset, tmp_path):
    page = tmp_path / "report.html"
    report_command(dataset, page)
    net_log = tmp_path / "net.json"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--log-net-log={net_log}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    charts = re.findall(r'<svg class="chart".*?</svg>', dom, flags=re.S)
    drawn = [c for c in charts if re.search(r'<path[^>]+d="M[\d.]+,[\d.]+ ?[LVHh]', c)]
    assert len(charts) >= 10 and len(drawn) == len(charts), (len(charts), len(drawn))
    assert dom.count("<tr>") > 25  # evaluator table + worst traces
    assert page_requests(net_log) == [], "the page fetched something"

    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
         f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
