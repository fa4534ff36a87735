"""Alert rules: the merge/evaluate logic alone, then a real worker + `alerts` through a broker,
with a local HTTP server as the webhook."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import pytest
import typer
from kafka_helpers import consume_all, produce
from typer.testing import CliRunner
from worker_process import run_worker, worker_env

from pipeline.cli.alerts import alerts_command
from pipeline.tools.alerts.engine import AlertEngine
from pipeline.tools.alerts.rules import AlertConfigError, AlertMessage, AlertRule, parse_alert_rules
from pipeline.tools.alerts.totals import estimate_percentile
from pipeline.tools.demo.samples import sample_traces
from schemas import EvaluatorAggregate, MetricsRecord
from schemas.metrics import LATENCY_BUCKETS_MS

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
cli = typer.Typer()
cli.command()(alerts_command)


def partial(minute, traces, errors, *, app="a", safety=None, hist=None):
    start = T0 + timedelta(minutes=minute)
    return MetricsRecord(
        window_start=start,
        window_end=start + timedelta(minutes=1),
        app=app,
        worker_id="w",
        trace_count=traces,
        error_count=errors,
        error_rate=errors / traces,
        latency_histogram=hist or [],
        evaluators={"safety": safety} if safety else {},
    )


def rule(**kw):
    base = dict(name="r", metric="error_rate", window="5m", comparison=">", threshold=0.5)
    return AlertRule.model_validate(base | kw)


def test_partials_merge_fire_once_then_resolve():
    engine = AlertEngine([rule(min_count=10)])
    assert engine.add(partial(0, 4, 4)) == []  # 4 traces < min_count: no decision
    (fired,) = engine.add(partial(0, 8, 4))  # same window, another partition: 8/12
    assert (fired.state, fired.count, fired.value) == ("firing", 12, 8 / 12)
    assert engine.add(partial(1, 2, 2)) == []  # still firing: no duplicate
    (resolved,) = engine.add(partial(2, 30, 0))  # 10/44 over the 5 minutes
    assert resolved.state == "resolved" and resolved.key == "r|a"
    assert resolved.window_start == T0 and resolved.window_end == T0 + timedelta(minutes=3)


def test_window_slides_and_apps_are_separate():
    engine = AlertEngine([rule(window="2m", min_count=1)])
    assert [a.state for a in engine.add(partial(0, 10, 10))] == ["firing"]
    assert engine.add(partial(0, 10, 10, app="b"))[0].app == "b"
    assert engine.add(partial(1, 10, 5)) == []  # 15/20: still firing, no repeat
    # minute 0 leaves the 2-minute window: 0/20 -> resolved
    assert [a.state for a in engine.add(partial(2, 10, 0))] == ["resolved"]


def test_evaluator_pass_rate_is_weighted_by_scored():
    engine = AlertEngine(
        [rule(metric="evaluators.safety.pass_rate", comparison="<", threshold=0.9)]
    )
    good = EvaluatorAggregate(evaluations=90, scored=90, mean_score=1.0, pass_rate=1.0)
    bad = EvaluatorAggregate(evaluations=10, scored=10, mean_score=0.0, pass_rate=0.0)
    assert engine.add(partial(0, 90, 0, safety=good)) == []
    assert engine.add(partial(0, 10, 0, safety=bad)) == []  # 0.9 exactly: not < 0.9
    worse = EvaluatorAggregate(evaluations=5, scored=5, pass_rate=0.0, error_count=5)
    (alert,) = engine.add(partial(1, 5, 0, safety=worse))
    assert alert.value == pytest.approx(90 / 105) and alert.count == 105


def test_percentile_from_merged_histogram():
    hist = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    hist[1] = 50  # 50..100 ms
    hist[4] = 50  # 300..500 ms
    assert estimate_percentile(hist, 0.5) == 100.0
    assert estimate_percentile(hist, 0.99) == pytest.approx(300 + 200 * 49 / 50)
    assert estimate_percentile([0] * len(hist), 0.5) is None
    engine = AlertEngine([rule(metric="latency_p99_ms", threshold=400)])
    (alert,) = engine.add(partial(0, 100, 0, hist=hist))
    assert alert.value > 400


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "x", "metric": "nope", "comparison": ">", "threshold": 1}, "unknown metric"),
        ({"name": "x", "metric": "error_rate", "comparison": "~", "threshold": 1}, "comparison"),
        ({"name": "x", "metric": "error_rate", "comparison": ">"}, "threshold"),
        (
            {"name": "x", "metric": "error_rate", "comparison": ">", "threshold": 1, "window": "5"},
            "invalid window",
        ),
    ],
)
def test_invalid_rules_name_the_rule(table, message):
    with pytest.raises(AlertConfigError, match=message) as info:
        parse_alert_rules([table], origin="f.toml")
    assert "f.toml: alerts[0] (x)" in str(info.value)


def test_invalid_rule_is_one_line_exit_2(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[[alerts]]\nname = "x"\nmetric = "error_rate"\ncomparison = "~"\n')
    result = CliRunner().invoke(cli, ["--config", str(config)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "alerts[0] (x)" in lines[0]


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self):
        self.bodies.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.bodies
    server.shutdown()
    server.server_close()


RULES = """
[[alerts]]
name = "errors"
metric = "error_rate"
app = "*"
window = "10m"
comparison = ">"
threshold = 0.3
min_count = 20

[[alerts]]
name = "support-errors"
metric = "error_rate"
app = "support-bot"
window = "10m"
comparison = ">"
threshold = 0.3

[[alerts]]
name = "needs-more-data"
metric = "trace_count"
window = "10m"
comparison = ">="
threshold = 0
min_count = 1000000
"""


def test_worker_metrics_fire_alert_on_topic_and_webhook(
    kafka_bootstrap, new_topic, tmp_path, webhook
):
    url, bodies = webhook
    topic = new_topic(partitions=2)
    traces = list(sample_traces(300, seed=5, spread_seconds=300))
    for i, trace in enumerate(t for t in traces if t["tags"]["app"] == "chat"):
        if i % 2 == 0:
            trace.update(status="ERROR", error="upstream 500", outputs=None)
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces])
    env = worker_env(kafka_bootstrap, topic, tmp_path / "parquet")
    run_worker(env)

    config = tmp_path / "rules.toml"
    config.write_text(RULES)
    alerts_topic = f"{topic}.alerts"
    common = ["--config", str(config), "--alerts-topic", alerts_topic, "--group", f"{topic}-al"]
    result = CliRunner().invoke(
        cli,
        [*common, "--webhook", url, "--stop-when-idle", "3"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    records = consume_all(kafka_bootstrap, alerts_topic, isolation_level="read_committed")
    alerts = [AlertMessage.model_validate_json(r.value) for r in records]
    assert [(a.rule, a.app, a.state) for a in alerts] == [("errors", "chat", "firing")]
    (alert,) = alerts
    assert records[0].key == b"errors|chat"
    assert alert.value > 0.3 and alert.count >= 20 and alert.metric == "error_rate"
    assert [json.loads(b) for b in bodies] == [json.loads(records[0].value)]

    # A restart resumes after what it read and knows "errors|chat" is firing: no repeat.
    again = CliRunner().invoke(
        cli,
        [*common, "--stop-when-idle", "2"],
        env=env,
    )
    assert again.exit_code == 0, again.output
    assert "already firing: 1" in again.stderr
    assert len(consume_all(kafka_bootstrap, alerts_topic)) == 1
