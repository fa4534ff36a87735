"""``evalstream trace show``: the same detail in a terminal, JSON on request, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[4]


def _show(trace_id: str, results_dir: Path, *extra: str) -> str:
    done = CliRunner().invoke(
        app,
        ["trace", "show", trace_id, "--data-dir", str(results_dir), *extra],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 0, done.output
    return done.output


def test_prints_content_results_and_spans(ui_results_dir):
    output = _show("tr-versioned", ui_results_dir)
    assert "What is the refund window for annual plans?" in output
    assert "30 days of purchase" in output  # answer (latest version) and context
    assert "version 2 of versions 1, 2 (the latest)" in output
    assert "correctness" in output and "evaluation results" in output


def test_spans_and_markup_are_printed_as_text(ui_results_dir):
    output = _show("tr-xss", ui_results_dir)
    assert "chat_completion" in output and "retrieve" in output
    assert "<script>alert('inputs')</script>" in output


def test_json_is_the_api_answer(ui_results_dir, client):
    output = _show("tr-xss", ui_results_dir, "--json")
    assert orjson.loads(output) == client.get("/api/traces/tr-xss").json()


def test_missing_trace_is_one_line_and_exit_2(ui_results_dir):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "trace", "show", "no-such-trace",
         "--data-dir", str(ui_results_dir)], capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: no stored trace or result has trace id 'no-such-trace'"
    ]
    missing_dir = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "trace", "show", "x", "--data-dir", "/nope"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert missing_dir.returncode == 2 and "is not a directory" in missing_dir.stderr
