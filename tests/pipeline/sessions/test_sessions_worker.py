"""Sessions through a real worker on a real broker: conversations go in as traces with a
session id, scored sessions come out on the scored-sessions topic (read_committed), in the
``sessions`` Parquet dataset and as session aggregates on the metrics topic.

One worker scores three conversations (each closed by its end marker): a frustrated one (a
rephrased question), a multi-turn jailbreak whose every turn passes ``safety`` alone, and a
short one; a late turn of the short one then re-opens it as session_version 2. The slow test
runs the worker twice: the second run restores the sessions from the table's changelog.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pytest
from conversations import JAILBREAK
from kafka import KafkaProducer
from kafka_helpers import consume_all, produce, wait_for_members
from worker_process import ROOT, run_worker, worker_env

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

FRUSTRATED = [
    ("How do I reset my password?", "Go to Settings and open Security."),
    ("I don't see a Security tab in settings.", "On mobile it is under Profile > Account."),
    ("I asked how to reset my password, how can I reset it?", "Tap Profile, then Account."),
    ("That's not what I asked. The app keeps crashing.", "Please update the app."),
    ("ok whatever", "Is there anything else I can help with?"),
]
SHORT = [
    ("What are your opening hours?", "We are open 9 to 5, Monday to Friday."),
    ("Thanks!", "You're welcome."),
]
CONFIG = """
[evaluators.error]
[evaluators.safety]
params = { tiers = "lexical" }
[evaluators.conversation_frustration]
[evaluators.goal_completion]
[evaluators.session_safety]
[evaluators.session_volume]
"""


def conversation(session: str, turns: list, start: datetime, end: bool = True) -> list[dict]:
    out = []
    for i, (question, answer) in enumerate(turns):
        tags = {"app": "support", "session_id": session}
        if end and i == len(turns) - 1:
            tags["session_end"] = "true"
        out.append({
            "trace_id": f"{session}-t{i + 1}",
            "timestamp": (start + timedelta(seconds=30 * i)).isoformat(),
            "inputs": {"question": question},
            "outputs": answer,
            "latency_ms": 100 + i,
            "tags": tags,
        })  # fmt: skip
    return out


def produce_turns(bootstrap: str, topic: str, traces: list[dict]) -> None:
    """Keyed by session id, as an app keeps a conversation's turns in order (unkeyed, turn 2
    could be scored before turn 1 and, once the end marker closed the session, re-open it as
    version 2: correct, but not what these tests look at)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for trace in traces:
        key = trace.get("tags", {}).get("session_id")
        producer.send(topic, key=key.encode() if key else None, value=orjson.dumps(trace))
    producer.flush(30)
    producer.close()


def scored_sessions(bootstrap: str, topic: str) -> dict[tuple[str, int], dict]:
    records = consume_all(bootstrap, f"{topic}.scored-sessions", isolation_level="read_committed")
    out = {}
    for record in records:
        body = orjson.loads(record.value)
        out[body["session_id"], body["session_version"]] = body
    return out


def result(body: dict, evaluator: str) -> dict:
    return next(r for r in body["results"] if r["evaluator"] == evaluator)


def wait_for(bootstrap: str, topic: str, keys: set, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sessions = scored_sessions(bootstrap, topic)
        except TimeoutError:
            sessions = {}
        if keys <= set(sessions):
            return sessions
        time.sleep(0.5)
    raise AssertionError(f"no scored sessions {keys - set(sessions)} within {timeout}s")


def late_turn() -> bytes:
    """A turn of "short" whose time lies between its two turns: it arrives after the close."""
    late = conversation("short", [("And on Saturdays?", "Closed on weekends.")],
                        T0 + timedelta(minutes=5, seconds=10), end=False)  # fmt: skip
    late[0]["trace_id"] = "short-late"
    return orjson.dumps(late[0])


def worker_setup(kafka_bootstrap, topic, tmp_path, config_text, **extra):
    """The worker's environment for ``topic`` with ``config_text`` as its evaluator config:
    (parquet dir, env); Parquet flushed every second, sessions closed at their end marker."""
    config = tmp_path / "evaluators.toml"
    config.write_text(config_text)
    parquet = tmp_path / "data" / "parquet"
    env = worker_env(kafka_bootstrap, topic, parquet, EVALSTREAM_CONFIG=str(config),
                     EVALSTREAM_PARQUET_FLUSH_SECONDS="1", **NO_LATENESS, **extra)  # fmt: skip
    return parquet, env


def setup(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    parquet, env = worker_setup(kafka_bootstrap, topic, tmp_path, CONFIG)
    traces = (
        conversation("frustrated", FRUSTRATED, T0)
        + conversation("jailbreak", JAILBREAK, T0)
        + conversation("short", SHORT, T0 + timedelta(minutes=5))
        + [{"trace_id": "no-session", "timestamp": T0.isoformat(), "tags": {"app": "support"}}]
    )
    produce_turns(kafka_bootstrap, topic, traces)
    return topic, parquet, env


NO_LATENESS = {"EVALSTREAM_SESSION_LATENESS_SECONDS": "0"}  # end markers close at once
FIRST = {("frustrated", 1), ("jailbreak", 1), ("short", 1)}


def test_sessions_are_scored_and_a_late_turn_gives_version_two(
    kafka_bootstrap, new_topic, tmp_path
):
    topic, parquet, env = setup(kafka_bootstrap, new_topic, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "3"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        sessions = wait_for(kafka_bootstrap, topic, FIRST)
        produce(kafka_bootstrap, f"{topic}.session-turns", [b"not a turn"])  # -> dead letter
        produce(kafka_bootstrap, topic, [late_turn()])
        sessions = wait_for(kafka_bootstrap, topic, FIRST | {("short", 2)})
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr[-3000:]
    finally:
        worker.kill()
    scored = {orjson.loads(r.value)["trace_id"]: orjson.loads(r.value)
              for r in consume_all(kafka_bootstrap, f"{topic}.scored")}  # fmt: skip
    assert set(sessions) == FIRST | {("short", 2)}

    frustrated = sessions["frustrated", 1]
    assert frustrated["turn_count"] == 5 and frustrated["closed_by"] == "end_marker"
    assert frustrated["trace_ids"] == [f"frustrated-t{i}" for i in range(1, 6)]
    frustration = result(frustrated, "conversation_frustration")
    assert frustration["passed"] is False and frustration["label"] == "frustrated"
    assert "turn 3 rephrases turn 1" in frustration["rationale"]
    assert "turn 4 negative feedback" in frustration["rationale"]

    # every turn passes the trace-level safety evaluator; the conversation does not
    for i in range(1, 5):
        assert result(scored[f"jailbreak-t{i}"], "safety")["passed"] is True
    jailbreak = result(sessions["jailbreak", 1], "session_safety")
    assert jailbreak["passed"] is False and jailbreak["label"] == "multi_turn_jailbreak"
    assert "turn 4 complied" in jailbreak["rationale"]
    assert result(sessions["short", 1], "goal_completion")["label"] == "confirmed"

    again = sessions["short", 2]
    assert again["trace_ids"] == ["short-t1", "short-late", "short-t2"]
    assert again["first_trace_time"] == sessions["short", 1]["first_trace_time"]

    rows = pd.read_parquet(parquet.parent / "sessions")
    assert len(rows) == 4 * 4  # session closings x session evaluators
    row = rows[(rows.session_id == "frustrated") & (rows.evaluator == "conversation_frustration")]
    assert row.iloc[0].turn_count == 5 and not row.iloc[0].passed
    assert list(row.iloc[0].trace_ids) == [f"frustrated-t{i}" for i in range(1, 6)]
    assert sorted(set(rows[rows.session_id == "short"].session_version)) == [1, 2]

    metrics = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, f"{topic}.metrics")]
    session_metrics = [m for m in metrics if m.get("kind") == "session"]
    assert sum(m["session_count"] for m in session_metrics) == 4
    assert sum(m["reopened_count"] for m in session_metrics) == 1
    assert sum(m["turn_count"] for m in session_metrics) == 11 + 3
    (dead,) = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, f"{topic}.dlq")]
    assert dead["error_type"] == "invalid_session_turn" and "not a session turn" in dead["reason"]
    assert dead["source_topic"] == f"{topic}.session-turns"
    check_ui(parquet)


def test_a_worker_without_session_evaluators_closes_sessions_and_keeps_running(
    kafka_bootstrap, new_topic, tmp_path
):
    """The session stage is on by default; with only trace evaluators configured a closed
    session has no results. It is still published (results []) and its Parquet flush writes
    an empty file; the worker crashed on that flush before (pyarrow refused the empty rows)."""
    topic = new_topic(partitions=2)
    parquet, env = worker_setup(
        kafka_bootstrap, topic, tmp_path, "[evaluators.error]\n[evaluators.latency]\n"
    )
    produce_turns(kafka_bootstrap, topic, conversation("short", SHORT, T0)
                  + conversation("other", SHORT, T0 + timedelta(minutes=1)))  # fmt: skip
    run_worker(env)
    sessions = scored_sessions(kafka_bootstrap, topic)
    assert set(sessions) == {("short", 1), ("other", 1)}
    assert all(body["results"] == [] for body in sessions.values())
    assert len(pd.read_parquet(parquet.parent / "sessions")) == 0
    assert len(pd.read_parquet(parquet)) == 4 * 2  # 4 traces x 2 evaluators


@pytest.mark.slow
def test_sessions_come_back_from_the_changelog_after_a_restart(
    kafka_bootstrap, new_topic, tmp_path
):
    topic, parquet, env = setup(kafka_bootstrap, new_topic, tmp_path)
    run_worker(env)
    assert set(scored_sessions(kafka_bootstrap, topic)) == FIRST
    produce(kafka_bootstrap, topic, [late_turn()])
    run_worker(env)  # a new process: "short" must come back from the changelog
    sessions = scored_sessions(kafka_bootstrap, topic)
    assert set(sessions) == FIRST | {("short", 2)}  # nothing scored twice
    assert sessions["short", 2]["trace_ids"] == ["short-t1", "short-late", "short-t2"]
    rows = pd.read_parquet(parquet.parent / "sessions")
    assert sorted(set(rows[rows.session_id == "short"].session_version)) == [1, 2]


def check_ui(parquet) -> None:
    """The web UI over what the worker wrote: a session page with its turns and results,
    linked from the trace page; the JSON API lists both versions of "short"."""
    from starlette.testclient import TestClient

    from pipeline.tools.ui.app import create_app
    from pipeline.tools.ui.layout import Datasets
    from pipeline.tools.ui.store import Store

    with TestClient(create_app(Store(Datasets.beside(parquet), listing_ttl=0))) as client:
        page = client.get("/sessions/frustrated")
        assert page.status_code == 200
        html = page.text
        assert "turn 3 rephrases turn 1" in html and "conversation_frustration" in html
        assert html.index('id="turn-1"') < html.index('id="turn-5"')
        assert "I asked how to reset my password" in html  # the turn's own input
        assert 'href="/traces/frustrated-t3"' in html
        trace = client.get("/traces/frustrated-t3").text
        assert 'href="/sessions/frustrated"' in trace
        short = client.get("/api/sessions/short").json()
        assert [c["session_version"] for c in short["closings"]] == [1, 2]
        assert [t["trace_id"] for t in short["turns"]] == ["short-t1", "short-late", "short-t2"]
        first = short["turns"][0]
        assert {r["evaluator"] for r in first["results"]} == {"error", "safety"}
        assert client.get("/sessions/nobody").status_code == 404


SESSIONS = 1000


@pytest.mark.slow
def test_a_killed_worker_scores_every_session_exactly_once(kafka_bootstrap, new_topic, tmp_path):
    """SIGKILL while sessions are being closed; the restarted worker replays what was not
    committed: every session is on the read_committed topic once, with one row per evaluator."""
    import signal

    topic = new_topic(partitions=2)
    parquet, env = worker_setup(
        kafka_bootstrap, topic, tmp_path,
        "[evaluators.error]\n[evaluators.session_volume]\n[evaluators.goal_completion]\n",
        EVALSTREAM_BATCH_SIZE="50",
    )  # fmt: skip
    traces = []
    for n in range(SESSIONS):
        traces += conversation(f"c{n:04d}", SHORT, T0 + timedelta(seconds=n))
    produce_turns(kafka_bootstrap, topic, traces)
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                records = consume_all(kafka_bootstrap, f"{topic}.scored-sessions", timeout=2,
                                      isolation_level="read_committed")  # fmt: skip
            except TimeoutError:
                records = []
            if records:
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)  # mid-stream: some sessions scored, most not
        worker.wait(timeout=30)
    finally:
        worker.kill()
    assert records  # killed once the first sessions were committed (usually a fraction)
    run_worker(env)
    records = consume_all(kafka_bootstrap, f"{topic}.scored-sessions",
                          isolation_level="read_committed")  # fmt: skip
    keys = [(orjson.loads(r.value)["session_id"], orjson.loads(r.value)["session_version"])
            for r in records]  # fmt: skip
    assert sorted(keys) == [(f"c{n:04d}", 1) for n in range(SESSIONS)]  # each once, none lost
    rows = pd.read_parquet(parquet.parent / "sessions")
    assert len(rows) == SESSIONS * 2
    assert not rows.duplicated(["session_id", "session_version", "evaluator"]).any()


@pytest.mark.slow
def test_two_workers_split_the_sessions_and_score_each_once(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=4)
    parquet, env = worker_setup(
        kafka_bootstrap, topic, tmp_path, "[evaluators.error]\n[evaluators.session_volume]\n"
    )
    traces = []
    for n in range(400):
        traces += conversation(f"w{n:03d}", SHORT, T0 + timedelta(seconds=n))
    cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "5"]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]  # files: a full pipe would block
    workers = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=log.open("w")) for log in logs]  # fmt: skip
    consumed = []
    try:
        # Both in the group before the first trace: else the first to join may take all 800
        # before the second is assigned anything (seen on a loaded machine: [800, 0]).
        wait_for_members(kafka_bootstrap, f"{topic}-workers", 2)
        produce_turns(kafka_bootstrap, topic, traces)
        for worker, log in zip(workers, logs, strict=True):
            worker.wait(timeout=240)
            stderr = log.read_text()
            assert worker.returncode == 0, stderr[-3000:]
            consumed.append(int(re.search(r"consumed ([\d,]+)", stderr)[1].replace(",", "")))
    finally:
        for worker in workers:
            worker.kill()
    assert sum(consumed) >= 800 and min(consumed) > 0, consumed  # both workers took a share
    keys = sorted(
        (body["session_id"], body["session_version"])
        for body in map(orjson.loads, (r.value for r in consume_all(
            kafka_bootstrap, f"{topic}.scored-sessions", isolation_level="read_committed")))
    )  # fmt: skip
    assert keys == [(f"w{n:03d}", 1) for n in range(400)]
    rows = pd.read_parquet(parquet.parent / "sessions")
    assert len(rows) == 400 and not rows.duplicated(["session_id", "session_version"]).any()
