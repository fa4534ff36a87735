"""Exactly-once of session state when a worker's commit fails in a rebalance, on a real broker.

Worker A scores sessions but does not commit them (``commit_fails_in_rebalance.py``); then a
second worker B joins the group, and A's commit in the revoke hook fails. A aborts its
transactions (scored sessions, changelog writes, aggregates), undoes its session steps in
memory and rewinds; after the rebalance A re-reads the partitions it keeps from the committed
offsets, B restores the ones it takes from the table's changelog. In the slow variant A then
leaves, B takes everything over, and late turns re-open sessions as version 2. Every session
is on the read_committed scored-sessions topic and in the ``sessions`` dataset once per
version: nothing lost, nothing doubled.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all, produce
from test_sessions_worker import NO_LATENESS, SHORT, T0, conversation, produce_turns
from worker_process import ROOT, worker_env

SESSIONS = 120
LATE = [f"r{n:03d}" for n in range(0, SESSIONS, 10)]  # re-opened: version 2
HERE = Path(__file__).resolve().parent


def records(bootstrap: str, topic: str, isolation: str = "read_committed") -> list[dict]:
    try:
        found = consume_all(bootstrap, topic, timeout=5, isolation_level=isolation)
    except TimeoutError:
        return []
    return [orjson.loads(r.value) for r in found]


def rows_in(dataset: Path) -> int:
    try:
        return len(pd.read_parquet(dataset))
    except (FileNotFoundError, OSError, ValueError):
        return 0


def wait_until(check, what: str, logs: list[Path], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tails = [log.read_text()[-2500:] for log in logs if log.exists()]
    raise AssertionError(f"{what} within {timeout}s; logs:\n" + "\n".join(tails))


def late_turn(session: str) -> bytes:
    """Between the session's two turns in trace time: it belongs to the closed session."""
    [turn] = conversation(session, [("One more thing?", "Sure.")], T0, end=False)
    turn["trace_id"] = f"{session}-late"
    index = int(session[1:])
    turn["timestamp"] = (T0 + timedelta(seconds=index, milliseconds=500)).isoformat()
    return orjson.dumps(turn)


@pytest.mark.slow
def test_a_failed_commit_in_a_rebalance_scores_every_session_exactly_once(
    kafka_bootstrap, new_topic, tmp_path
):
    run(kafka_bootstrap, new_topic(partitions=4), tmp_path, late=False)


@pytest.mark.slow
def test_after_a_failed_commit_late_turns_reopen_the_sessions_on_the_new_owner(
    kafka_bootstrap, new_topic, tmp_path
):
    """Then A leaves, B takes its partitions over (their sessions from the changelog) and
    late turns re-open sessions of all four partitions as version 2."""
    run(kafka_bootstrap, new_topic(partitions=4), tmp_path, late=True)


def run(kafka_bootstrap: str, topic: str, tmp_path: Path, late: bool) -> None:
    config = tmp_path / "light.toml"
    config.write_text("[evaluators.error]\n[evaluators.session_volume]\n"
                      "[evaluators.goal_completion]\n")  # fmt: skip
    parquet = tmp_path / "data" / "parquet"
    env = worker_env(kafka_bootstrap, topic, parquet, EVALSTREAM_CONFIG=str(config),
                     EVALSTREAM_PARQUET_FLUSH_SECONDS="1", **NO_LATENESS)  # fmt: skip
    traces = []
    for n in range(SESSIONS):  # 1 s apart in trace time, 30 s between a session's turns
        traces += conversation(f"r{n:03d}", SHORT, T0 + timedelta(seconds=n))
    produce_turns(kafka_bootstrap, topic, traces)
    scored_sessions = f"{topic}.scored-sessions"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a = subprocess.Popen(
        [sys.executable, str(HERE / "commit_fails_in_rebalance.py"), "3" if late else "60"],
        env={**env, "EVALSTREAM_WORKER_ID": "worker-a"}, cwd=ROOT, stderr=logs[0].open("w"),
    )  # fmt: skip
    workers = [a]
    try:
        # A scored sessions in transactions it holds open (it commits nothing any more)
        wait_until(lambda: records(kafka_bootstrap, scored_sessions, "read_uncommitted"),
                   "worker A did not score sessions", logs)  # fmt: skip
        time.sleep(1)  # A scores what it can see
        seen = len(records(kafka_bootstrap, scored_sessions, "read_uncommitted"))
        held = seen - len(records(kafka_bootstrap, scored_sessions))
        assert held > 0
        b = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle",
             "10" if late else "60"],  # fast variant: both stop on SIGTERM, not on idle
            env={**env, "EVALSTREAM_WORKER_ID": "worker-b"}, cwd=ROOT, stderr=logs[1].open("w"),
        )  # fmt: skip
        workers.append(b)
        wait_until(lambda: len(records(kafka_bootstrap, scored_sessions)) >= SESSIONS,
                   "the sessions were not committed after the rebalance", logs)  # fmt: skip
        if late:
            a.wait(timeout=60)  # idle: it leaves the group, B takes its partitions over
            produce(kafka_bootstrap, topic, [late_turn(session) for session in LATE])
        else:  # both stop once the dataset is written (SIGTERM: finish, flush, commit)
            wait_until(lambda: rows_in(parquet.parent / "sessions") >= 2 * SESSIONS,
                       "the sessions dataset was not written", logs)  # fmt: skip
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=120)
    finally:
        for worker in workers:
            worker.kill()
    out = [log.read_text() for log in logs]
    assert [w.returncode for w in workers] == [0, 0], [text[-3000:] for text in out]
    assert "injected commit failure" in out[0] and "rolling back" in out[0]
    assert "(0 session steps sent)" not in out[0]  # the failure hit session steps

    reopened = LATE if late else []
    committed = records(kafka_bootstrap, scored_sessions)
    keys = sorted((s["session_id"], s["session_version"]) for s in committed)
    expected = sorted([(f"r{n:03d}", 1) for n in range(SESSIONS)] + [(s, 2) for s in reopened])
    assert keys == expected, diagnose(kafka_bootstrap, topic, set(expected) ^ set(keys))
    for session in committed:  # each closing once: none lost, none doubled, over its turns
        sid = session["session_id"]
        want = [f"{sid}-t1", f"{sid}-t2"]
        if session["session_version"] == 2:
            want.insert(1, f"{sid}-late")
        assert session["trace_ids"] == want
    # A's aborted attempt is in the log, invisible to read_committed readers
    uncommitted = records(kafka_bootstrap, scored_sessions, "read_uncommitted")
    assert len(uncommitted) >= len(committed) + held

    metrics = records(kafka_bootstrap, f"{topic}.metrics")
    metrics = [m for m in metrics if m.get("kind") == "session"]
    assert sum(m["session_count"] for m in metrics) == SESSIONS + len(reopened)
    assert sum(m["reopened_count"] for m in metrics) == len(reopened)

    rows = pd.read_parquet(parquet.parent / "sessions")
    assert len(rows) == 2 * (SESSIONS + len(reopened))  # x session evaluators
    assert not rows.duplicated(["session_id", "session_version", "evaluator"]).any()
    versions = rows.groupby("session_id").session_version.max()
    assert sorted(versions[versions == 2].index) == reopened


def diagnose(bootstrap: str, topic: str, wrong: set) -> str:
    """What the session-turns topic, the table's changelog and the session aggregates hold
    for the sessions that came out wrong (committed data only)."""
    sids = {sid for sid, _ in wrong}
    lines = [f"missing or unexpected: {sorted(wrong)}"]
    changelog = consume_all(bootstrap, f"{topic}-workers-sessions-changelog",
                            isolation_level="read_committed")  # fmt: skip
    for record in changelog:
        key = orjson.loads(record.key)
        if key in sids or key.startswith("\x00partition"):
            entry = orjson.loads(record.value) if record.value else None
            brief = entry and {k: v for k, v in entry.items() if k != "turns"}
            turns = entry and sorted(entry.get("turns", {}))
            lines.append(f"changelog p{record.partition} @{record.offset} {key!r}: {brief} {turns}")
    for m in records(bootstrap, f"{topic}.metrics"):
        if m.get("kind") == "session":
            where = f"aggregate {m['worker_id']} p{m['source_partition']}"
            lines.append(f"{where}: {m['session_count']} closed, {m['reopened_count']} re-opened")
    return "\n".join(lines)
