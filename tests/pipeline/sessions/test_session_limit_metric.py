"""The worker's session stage counts each memory bound it hits in
``evalstream_session_limit_hits_total{limit}`` (the book's decisions are in test_window.py;
this checks the stage wires them to the Prometheus counter). No broker: the faust app is
built, never started."""

from __future__ import annotations

import asyncio

import faust
from test_window import turn

from pipeline import prometheus
from pipeline.sessions.book import Changes
from pipeline.sessions.stage import SessionStage
from pipeline.settings import load_settings


def _hits(limit: str) -> float:
    return prometheus.SESSION_LIMIT_HITS.labels(limit)._value.get()


def test_the_stage_counts_open_session_and_turn_bound_hits(tmp_path) -> None:
    settings = load_settings(parquet_dir=tmp_path / "parquet", state_dir=tmp_path / "state",
                             session_max_open=2, session_max_turns=2)  # fmt: skip
    app = faust.App("limit-metric-test", broker="kafka://127.0.0.1:1", store="memory://",
                    web_enabled=False, autodiscover=False)  # fmt: skip
    stage = SessionStage(app, settings, 1, sender=None, scorer=None, encoder=None,
                         lock=asyncio.Lock, on_durable=lambda offsets: None)  # fmt: skip
    app.rebalancing = True  # as while partitions move: every held session counts as owned
    open_before, turns_before = _hits("open_sessions"), _hits("turns")
    wall = 1_000_000.0
    for sid, trace, seconds in [("a", "a1", 0), ("b", "b1", 10), ("c", "c1", 20),
                                ("c", "c2", 21), ("c", "c3", 22)]:  # fmt: skip
        changes = Changes()
        stage.book.absorb(0, turn(sid, trace, seconds), wall, changes)
        stage.book.close_due(0, wall, changes)
    assert _hits("open_sessions") == open_before + 1  # "c" came past the bound of 2
    assert _hits("turns") == turns_before + 1  # "c" reached 2 turns; c3 starts a new one
