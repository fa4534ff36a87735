"""docs/span-targeting.md and examples/span-targeting.toml match the code: every TOML
example builds with the installed evaluators, the error lines shown are the real ones, and
the testing snippet runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from evaluators import ConfigError, discover
from evaluators.config import load_config, parse_config
from evaluators.runner import build_evaluators

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "span-targeting.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


@pytest.fixture(scope="module")
def registry():
    return discover()


def test_every_toml_example_builds(registry) -> None:
    blocks = _blocks("toml")
    assert len(blocks) >= 4
    for block in blocks:
        built = build_evaluators(parse_config(tomllib.loads(block)), registry)
        assert built and all(c.apply_to is not None for c in built)


def test_the_example_config_builds(registry) -> None:
    built = build_evaluators(load_config(ROOT / "examples" / "span-targeting.toml"), registry)
    runs_on = {c.name: c.apply_to for c in built}
    assert runs_on["latency"] is None and runs_on["error"] is None
    assert runs_on["llm_safety"].span_type == ["LLM", "CHAT_MODEL"]
    assert runs_on["final_answer_correctness"].pick == "last"
    assert {c.name: c.max_spans for c in built}["tool_latency"] == 50


def test_the_error_lines_shown_are_the_real_ones() -> None:
    shown = re.search(r"```\n(error: .*?)```", DOC, re.S)
    assert shown
    for line in shown.group(1).strip().splitlines():
        origin, key, _ = line.removeprefix("error: ").split(": ", 2)
        name, field = key.split(".")[1], key.split(".")[2:]
        table = {"use": {"llm_safety": "safety", "final": "correctness"}.get(name, "latency")}
        bad = re.search(r"'([^']*)'", line.split(": ", 3)[-1]).group(1)
        if field == ["apply_to"]:
            table["apply_to"] = {bad: ["LLM"]}
        else:
            table["apply_to"] = {field[1]: bad if field[1] == "name" else "final"}
        with pytest.raises(ConfigError) as caught:
            parse_config({"evaluators": {name: table}}, origin=origin)
        assert f"error: {caught.value}" == line


def test_the_testing_snippet_runs(tmp_path: Path) -> None:
    [snippet] = [b for b in _blocks("python") if "run_evaluator" in b]
    script = tmp_path / "snippet.py"
    script.write_text(snippet, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
