"""``evalstream evaluators list`` and ``evalstream config check``, mounted as the lead mounts
them in pipeline/cli/main.py, driven with typer's CliRunner (no broker needed)."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, entry_points

import pytest
import typer
from typer.testing import CliRunner

import pipeline.cli.evaluators as cli
from evaluators.registry import (
    DEFAULT_EVALUATORS,
    DEFAULT_SESSION_EVALUATORS,
    ENTRY_POINT_GROUP,
    Registry,
)

app = typer.Typer()
app.add_typer(cli.evaluators_app, name="evaluators")
app.add_typer(cli.config_app, name="config")
runner = CliRunner()

BROKEN = EntryPoint(name="broken_plugin", value="no_such_module_xyz:thing", group=ENTRY_POINT_GROUP)


@pytest.fixture
def with_broken_plugin(monkeypatch):
    """The installed evaluators plus one plugin whose import fails."""

    def discover(allow=None):
        points = [*entry_points(group=ENTRY_POINT_GROUP), BROKEN]
        return Registry().load_entry_points(points, allow=allow)

    monkeypatch.setattr(cli, "discover", discover)


def invoke(*args: str):
    """The CLI in a terminal of fixed width: rich lays tables out to the width it finds
    (``COLUMNS``), and in a narrow one folds column titles letter by letter."""
    return runner.invoke(app, list(args), env={"COLUMNS": "160"})


def test_list_json_has_versions_packages_defaults_params_and_errors(with_broken_plugin):
    done = invoke("evaluators", "list", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    by_name = {item["name"]: item for item in data["evaluators"]}
    assert set(DEFAULT_EVALUATORS) <= set(by_name)
    latency = by_name["latency"]
    assert latency["package"] == "evalstream" and latency["package_version"]
    assert latency["default"] is True and latency["kind"] == "class"
    assert "slo_ms" in latency["parameters"]
    assert [e["name"] for e in data["load_errors"]] == ["broken_plugin"]
    assert "ModuleNotFoundError" in data["load_errors"][0]["reason"]


def test_list_table_shows_evaluators_and_load_errors(with_broken_plugin):
    done = invoke("evaluators", "list")
    assert done.exit_code == 0, done.output
    assert "Installed evaluators" in done.stdout
    for name in ("latency", "token_usage", "cost"):
        assert name in done.stdout
    assert "load error: broken_plugin" in " ".join(done.stdout.split())


GOOD = """
[defaults]
timeout_seconds = 7

[evaluators.latency]
params = { slo_ms = 1500 }

[evaluators.latency_strict]
use = "latency"
threshold = 0.9
sample_rate = 0.25
filter = { status = ["OK"], tags = { env = "prod" } }
params = { slo_ms = 500 }

[evaluators.error]
enabled = false
"""


ALERT = (
    "[[alerts]]\nname = 'slow'\nmetric = '{metric}'\ncomparison = '>'\nthreshold = {threshold}\n"
)


def test_check_lists_valid_alert_rules(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text(ALERT.format(metric="latency_p95_ms", threshold="2000"), encoding="utf-8")
    done = invoke("config", "check", str(path), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["alerts"] == ["slow"]
    table = invoke("config", "check", str(path))
    assert "alert rules: slow" in " ".join(table.stdout.split())


def test_check_valid_config_prints_resolved_evaluators(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(GOOD, encoding="utf-8")
    done = invoke("config", "check", str(path), "--json")
    assert done.exit_code == 0, done.output
    resolved = {e["name"]: e for e in json.loads(done.stdout)["evaluators"]}
    assert list(resolved) == ["latency", "latency_strict"]
    strict = resolved["latency_strict"]
    assert strict["evaluator"] == "latency"
    assert (strict["threshold"], strict["sample_rate"], strict["timeout_seconds"]) == (
        0.9,
        0.25,
        7.0,
    )
    assert strict["params"]["slo_ms"] == 500
    assert strict["filter"] == {"status": ["OK"], "tags": {"env": "prod"}}

    table = invoke("config", "check", str(path))
    assert table.exit_code == 0
    words = " ".join(table.stdout.split())
    assert "valid, 2 evaluators" in words and "latency_strict" in words


def test_check_without_evaluators_table_resolves_the_default_set(tmp_path):
    path = tmp_path / "defaults.toml"
    path.write_text("[defaults]\nsample_rate = 0.5\n", encoding="utf-8")
    done = invoke("config", "check", str(path), "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["default_set"] is True
    traces = {e["name"] for e in data["evaluators"] if e["scope"] == "trace"}
    sessions = {e["name"] for e in data["evaluators"] if e["scope"] == "session"}
    assert traces <= set(DEFAULT_EVALUATORS)
    assert sessions == set(DEFAULT_SESSION_EVALUATORS)  # the session stage's default set
    assert {e["sample_rate"] for e in data["evaluators"]} == {0.5}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[evaluators.latency\n", ["invalid TOML"]),
        ("[evaluators.latency]\nbogus = 1\n", ["evaluators.latency.bogus", "Extra inputs"]),
        ("[defaults]\nsample_rate = 2\n", ["defaults.sample_rate"]),
        ("[evaluators.nope]\n", ["evaluators.nope: unknown evaluator 'nope'", "installed:"]),
        (
            "[evaluators.latency]\nparams = { slo = 1 }\n[evaluators.cost]\nuse = 'missing'\n",
            ["has no parameter slo (it accepts: slo_ms)", "evaluators.cost: unknown evaluator"],
        ),
        ("[evaluators.broken_plugin]\n", ["plugin failed to load: ModuleNotFoundError"]),
        # [[alerts]] rules go through the alerts runner's own parser (issue 16, item 8)
        (
            ALERT.format(metric="latncy_p95_ms", threshold="2000"),
            ["alerts[0] (slow): metric:", "unknown metric 'latncy_p95_ms'"],
        ),
        (ALERT.format(metric="error_rate", threshold="'high'"), ["alerts[0] (slow): threshold"]),
    ],
)
def test_check_invalid_configs_exit_2_with_one_line_errors(
    tmp_path, with_broken_plugin, text, fragments
):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    done = invoke("config", "check", str(path))
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors and all(line.startswith("error: ") and str(path) in line for line in errors)
    for fragment in fragments:
        assert fragment in done.stderr


def test_check_missing_file(tmp_path):
    done = invoke("config", "check", str(tmp_path / "missing.toml"))
    assert done.exit_code == 2
    assert "config file not found" in done.stderr


def test_check_shows_which_spans_a_span_targeted_evaluator_runs_on(tmp_path):
    path = tmp_path / "spans.toml"
    path.write_text(
        "[defaults]\nmax_spans_per_trace = 40\n[evaluators.latency]\n"
        "[evaluators.tool_latency]\nuse = 'latency'\n"
        "apply_to = { span_type = ['TOOL'], name = '^search' }\n",
        encoding="utf-8",
    )
    done = invoke("config", "check", str(path), "--json")
    assert done.exit_code == 0, done.output
    resolved = {e["name"]: e for e in json.loads(done.stdout)["evaluators"]}
    assert resolved["latency"]["apply_to"] is None
    assert resolved["tool_latency"]["apply_to"] == {
        "span_type": ["TOOL"],
        "name": "^search",
        "max_spans": 40,
    }
    words = " ".join(invoke("config", "check", str(path)).stdout.split())
    assert "runs on" in words and "every span" in words and "40/trace" in words  # cells fold


def test_check_rejects_a_bad_apply_to_in_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[evaluators.latency]\napply_to = { name = '(' }\n", encoding="utf-8")
    done = invoke("config", "check", str(path))
    assert done.exit_code == 2
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ")
    assert "evaluators.latency.apply_to.name: invalid regular expression" in line


def test_check_shows_session_evaluators_as_running_on_closed_sessions(tmp_path):
    path = tmp_path / "sessions.toml"
    path.write_text("[evaluators.latency]\n[evaluators.conversation_frustration]\n")
    done = invoke("config", "check", str(path), "--json")
    assert done.exit_code == 0, done.output
    scopes = {e["name"]: e["scope"] for e in json.loads(done.stdout)["evaluators"]}
    assert scopes == {"latency": "trace", "conversation_frustration": "session"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[evaluators.goal_completion]\napply_to = { span_type = ["LLM"] }\n')
    failed = invoke("config", "check", str(bad))
    assert failed.exit_code == 2 and "a session evaluator scores whole sessions" in failed.output
