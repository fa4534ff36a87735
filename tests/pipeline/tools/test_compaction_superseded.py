"""Compaction and the owner epochs of the Parquet sink (pipeline/sinks/fence.py,
pipeline/tools/maintenance/superseded.py): a killed zombie's overlapping file goes, rows
nobody else holds stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from test_maintenance import TOPIC, message

from pipeline.sinks import fence
from pipeline.sinks.parquet import ParquetSink
from pipeline.tools.maintenance import compact


def test_compaction_deletes_a_killed_zombies_file_the_newer_owner_covers(tmp_path, monkeypatch):
    """A zombie killed between its write and its look for a newer claim leaves a file that
    overlaps its successor's; compaction deletes it when the newer files hold its rows."""
    when = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    root = tmp_path / "parquet"
    zombie, owner = ParquetSink(root), ParquetSink(root)
    zombie.claim(TOPIC, [0])
    owner.claim(TOPIC, [0])
    for first, last in ((0, 9), (10, 19)):
        for offset in range(first, last + 1):
            owner.add(message(offset, when), TOPIC, 0, offset)
        owner.flush()
    monkeypatch.setattr(fence, "superseded", lambda *args: False)  # killed before it looked
    for offset in range(5, 15):
        zombie.add(message(offset, when), TOPIC, 0, offset)
    (late,) = zombie.flush()
    stray = ParquetSink(root)  # an older epoch's file with rows nobody else has: kept
    stray.epochs[(TOPIC, 0)] = 1
    stray.add(message(25, when), TOPIC, 0, 25)
    stray.add(message(26, when), TOPIC, 0, 26)
    (other,) = stray.flush()
    assert pd.read_parquet(root).duplicated(["trace_id", "evaluator"]).sum() == 20
    report = compact(root, timedelta(hours=2), now=when + timedelta(hours=5),
                     tail_window=timedelta(seconds=0))  # fmt: skip
    assert report.recovered == [late] and other.exists()
    frame = pd.read_parquet(root)
    assert len(frame) == 22 * 2 and not frame.duplicated(["trace_id", "evaluator"]).any()
