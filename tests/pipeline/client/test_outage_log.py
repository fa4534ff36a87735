"""KafkaHealth and the kafka-python log gate, with a test clock (no broker needed here; the
same behaviour through a real broker outage: test_outage_behaviour.py)."""

from __future__ import annotations

import logging
import threading

from evalstream_client.kafka_logs import KafkaLogGate
from evalstream_client.outage import KafkaHealth


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _health(clock: Clock, counts: dict[str, int]) -> KafkaHealth:
    return KafkaHealth("Kafka at k:9092 (topic t)", lambda: counts, interval=30, clock=clock)


def test_one_line_per_interval_with_what_happened_meanwhile(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="evalstream_client")
    clock, counts = Clock(), {"retried": 0, "spilled": 0}
    health = _health(clock, counts)
    health.ok()
    for _ in range(95):  # a 95 s outage: errors and spills every second
        health.trouble(ConnectionRefusedError(111, "refused"))
        counts["retried"] += 3
        counts["spilled"] += 10
        health.report()
        clock.now += 1
    health.ok()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5, lines  # the start, one each 30 s (3), the end
    assert "ConnectionRefusedError" in lines[0]
    assert "in the last 30 s: 90 retried, 300 spilled" in lines[2]
    assert "answers again after 95 s; during the outage: 285 retried, 950 spilled" in lines[-1]
    assert health.healthy and not health.in_outage


def test_flapping_does_not_log_a_pair_of_lines_per_blip(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="evalstream_client")
    clock, counts = Clock(), {"retried": 0}
    health = _health(clock, counts)
    for _ in range(20):  # 20 blips of 1 s within 40 s
        health.trouble("blip")
        counts["retried"] += 1
        clock.now += 1
        health.report()
        health.ok()
        clock.now += 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) <= 4, lines  # the first blip's two lines, then at most one per 30 s


def test_gate_holds_back_only_the_sdk_threads_warnings(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    gate = KafkaLogGate()
    held: list[str] = []

    class Sink:
        def held_back(self, record: logging.LogRecord) -> None:
            held.append(record.getMessage())

    kafka_log = logging.getLogger("kafka.gate_test")
    sink = Sink()
    gate.register("evalstream-sdk-99-", sink)
    try:

        def sdk_thread() -> None:
            kafka_log.error("connection refused")
            kafka_log.debug("debug passes")

        thread = threading.Thread(target=sdk_thread, name="evalstream-sdk-99-network-thread")
        thread.start()
        thread.join()
        kafka_log.error("the application's own client")  # the test's thread: passes
    finally:
        gate.unregister("evalstream-sdk-99-", sink)
        kafka_log.removeFilter(gate)
    shown = [r.getMessage() for r in caplog.records if r.name == "kafka.gate_test"]
    assert held == ["connection refused"]
    assert shown == ["debug passes", "the application's own client"]
