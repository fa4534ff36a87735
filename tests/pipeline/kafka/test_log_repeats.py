"""aiokafka's repeated lines: the first of each kind at once, then one counted line per
interval (a fake clock here; the receiver and worker outage tests count real lines)."""

from __future__ import annotations

import logging

import pytest

from pipeline.kafka.log_repeats import RepeatedLines


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    gate = RepeatedLines(30.0, clock=clock, summary_logger="aiokafka-test")
    loggers = [logging.getLogger(n) for n in ("aiokafka-test.conn", "aiokafka-test.client")]
    for logger in loggers:
        logger.addFilter(gate)
    caplog.set_level(logging.INFO)
    yield gate, clock, loggers
    for logger in loggers:
        logger.removeFilter(gate)


def test_an_outage_is_a_few_lines_with_counts(gate, caplog) -> None:
    gate, clock, (conn, client) = gate
    for second in range(65):  # 65 s of a broker away: two lines per second, as aiokafka logs
        clock.now += 1
        conn.error("Unable connect to node with id %s: %s", 1, f"refused port {9000 + second}")
        client.error("Unable to update metadata from %s", [1])
        conn.info("an INFO line is never held back")
        gate.report()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines[:2] == [
        "Unable connect to node with id 1: refused port 9000",
        "Unable to update metadata from [1]",
    ]
    assert lines[2:] == [
        "58 repeated lines held back in the last 30 s: 29 x Unable connect to node with id 1:"
        " refused port 9029; 29 x Unable to update metadata from [1]",
        "60 repeated lines held back in the last 30 s: 30 x Unable connect to node with id 1:"
        " refused port 9059; 30 x Unable to update metadata from [1]",
    ]
    summary = [r for r in caplog.records if r.name == "aiokafka-test"]
    assert {r.levelname for r in summary} == {"ERROR"}  # the level of what was held back
    assert sum(r.levelno == logging.INFO for r in caplog.records) == 65

    caplog.clear()
    clock.now += 31  # the broker is back: what was held since the last line is said ...
    gate.report()
    clock.now += 31  # ... and a kind quiet for an interval is said at once again next time
    gate.report()
    conn.error("Unable connect to node with id %s: %s", 1, "refused")
    assert [r.getMessage() for r in caplog.records] == [
        "10 repeated lines held back in the last 36 s: 5 x Unable connect to node with id 1:"
        " refused port 9064; 5 x Unable to update metadata from [1]",
        "Unable connect to node with id 1: refused",
    ]


def test_a_new_kind_of_line_is_never_held_back(gate, caplog) -> None:
    gate, _clock, (conn, _client) = gate
    conn.warning("Unable connect to node with id %s", 1)
    conn.warning("Unable connect to node with id %s", 1)
    conn.warning("Topic %s not found in cluster metadata", "spans")
    assert [r.getMessage() for r in caplog.records] == [
        "Unable connect to node with id 1",
        "Topic spans not found in cluster metadata",
    ]
    gate.report(force=True)
    assert caplog.records[-1].getMessage() == (
        "1 repeated lines held back in the last 0 s: 1 x Unable connect to node with id 1"
    )
