"""``evalstream trace show``: the same detail in a terminal, JSON on request, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[4]


def test_prints_content_results_and_spans(ui_results_dir):
    done = CliRunner().invoke(
        app, ["trace", "show", "tr-versioned", "--data-dir", str(ui_results_dir)],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "What is the refund window for annual plans?" in done.output
    assert "30 days of purchase" in done.output  # answer (latest version) and context
    assert "version 2 of versions 1, 2 (the latest)" in done.output
    assert "correctness" in done.output and "evaluation results" in done.output


def test_spans_and_markup_are_printed_as_text(ui_results_dir):
    done = CliRunner().invoke(
        app, ["trace", "show", "tr-xss", "--data-dir", str(ui_results_dir)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "chat_completion" in done.output and "retrieve" in done.output
    assert "<script>alert('inputs')</script>" in done.output


def test_json_is_the_api_answer(ui_results_dir, client):
    done = CliRunner().invoke(
        app, ["trace", "show", "tr-xss", "--json", "--data-dir", str(ui_results_dir)]
    )
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.output) == client.get("/api/traces/tr-xss").json()


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
