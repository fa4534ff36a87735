"""Compaction heals files of one partition whose offset ranges overlap (a zombie worker's
file beside the new owner's, docs/guarantees.md point 3): one merged file with every row key
of every input once, the duplicates counted, the later-written copy kept; a crash between
the merged write and the deletes finished by the next run; nothing healed while a file of
the cluster may not be merged yet."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pandas as pd
import pytest
from test_maintenance import AT_NOW, NOW, OLD_DAY, TOPIC, age, app, message, names
from typer.testing import CliRunner

from pipeline.sinks.parquet import ParquetSink, file_name
from pipeline.sinks.storage import Location, locate
from pipeline.tools.maintenance import compact
from pipeline.tools.maintenance.overlaps import overlap_clusters

STAMP = OLD_DAY.replace(hour=10, minute=5)
TAIL = file_name(TOPIC, 0, 100, 100)
KEY = ["kafka_topic", "kafka_partition", "kafka_offset", "evaluator"]


def write(root, first: int, last: int, score: float, written_hours_ago: float):
    """One file of TOPIC p0 named first..last, its rows scored ``score``, dated."""
    sink = ParquetSink(root)
    for offset in range(first, last + 1):
        row = message(offset, STAMP + timedelta(seconds=offset))
        for result in row["results"]:
            result["score"] = score
        sink.add(row, TOPIC, 0, offset)
    [path] = sink.flush()
    age([path], NOW - timedelta(hours=written_hours_ago))
    return path


def frame(root) -> pd.DataFrame:
    return pd.read_parquet(root)


def zombie_and_owner(root):
    owner = write(root, 0, 9, 0.5, written_hours_ago=20)  # the new owner's flush
    zombie = write(root, 5, 14, 0.9, written_hours_ago=19)  # cut at other offsets, later
    write(root, 100, 100, 0.5, written_hours_ago=0.1)  # the partition's live tail (today)
    return owner, zombie


def test_overlapping_files_become_one_with_each_key_once(tmp_path):
    owner, zombie = zombie_and_owner(tmp_path)
    before = frame(tmp_path)
    assert before.duplicated(KEY).sum() == 5 * 2  # offsets 5..9, two evaluators each
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    [heal] = report.heals
    assert sorted(heal.inputs) == sorted([owner, zombie]) and heal.duplicates_dropped == 10
    assert report.duplicates_dropped == 10 and heal.rows == 15 * 2
    assert names(tmp_path, 10) == [file_name(TOPIC, 0, 0, 14), TAIL]
    after = frame(tmp_path)
    assert not after.duplicated(KEY).any()
    key_set = lambda f: set(map(tuple, f[KEY].to_numpy().tolist()))  # noqa: E731
    assert key_set(after) == key_set(before)  # no key lost
    healed = after[after.kafka_offset <= 14].set_index(["kafka_offset", "evaluator"])["score"]
    assert (healed.loc[list(range(0, 5))] == 0.5).all()  # only the owner has them
    assert (healed.loc[list(range(5, 15))] == 0.9).all()  # the later write's copy


def test_the_later_write_wins_whichever_file_it_is(tmp_path):
    write(tmp_path, 0, 9, 0.5, written_hours_ago=19)  # now the later one
    write(tmp_path, 5, 14, 0.9, written_hours_ago=20)
    write(tmp_path, 100, 100, 0.5, written_hours_ago=0.1)
    compact(tmp_path, timedelta(hours=2), now=NOW)
    after = frame(tmp_path)
    scores = after[after.kafka_offset.between(5, 9)]["score"]
    assert len(scores) == 10 and (scores == 0.5).all()


def test_compact_command_reports_the_dropped_duplicates(tmp_path):
    zombie_and_owner(tmp_path)
    dry = CliRunner().invoke(app, ["compact", "--parquet-dir", str(tmp_path), "--dry-run", *AT_NOW])
    assert dry.exit_code == 0, dry.output
    assert "would heal 2 files with overlapping offsets" in dry.stdout
    assert len(frame(tmp_path)) == 21 * 2  # nothing changed
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", str(tmp_path), *AT_NOW])
    assert done.exit_code == 0, done.output
    assert "dropped 10 duplicate rows" in done.stdout
    assert "healed 1 overlap(s), dropping 10 duplicate row(s)" in done.stdout


def test_a_crash_between_the_healed_write_and_the_deletes_is_finished_next_run(
    tmp_path, monkeypatch
):
    owner, zombie = zombie_and_owner(tmp_path)
    keys = Counter(map(tuple, frame(tmp_path)[KEY].to_numpy().tolist()))

    def killed(self):
        raise KeyboardInterrupt("killed between the merged write and the deletes")

    with monkeypatch.context() as patched:
        patched.setattr(Location, "delete", killed)
        with pytest.raises(KeyboardInterrupt):
            compact(tmp_path, timedelta(hours=2), now=NOW)
    healed = tmp_path / "date=2026-11-24" / "hour=10" / file_name(TOPIC, 0, 0, 14)
    assert healed.exists() and owner.exists() and zombie.exists()  # rows visible, twice
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert sorted(report.recovered) == sorted([owner, zombie]) and report.heals == []
    assert names(tmp_path, 10) == [healed.name, TAIL]
    after = Counter(map(tuple, frame(tmp_path)[KEY].to_numpy().tolist()))
    assert after == Counter(dict.fromkeys(keys, 1))  # every key, once


def test_nothing_is_healed_while_a_file_of_the_overlap_is_young(tmp_path):
    write(tmp_path, 0, 9, 0.5, written_hours_ago=20)
    write(tmp_path, 5, 14, 0.9, written_hours_ago=1)  # younger than min_age
    write(tmp_path, 100, 100, 0.5, written_hours_ago=0.1)
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert report.heals == [] and len(names(tmp_path, 10)) == 3
    assert any("overlapping offsets in files that may not" in r for _, r in report.skipped)


def test_a_cluster_is_every_file_linked_by_overlaps(tmp_path):
    def data(first, last):
        from pipeline.sinks.dataset import DataFile

        return DataFile(locate(tmp_path / f"{first}-{last}"), TOPIC, 0, first, last)

    files = [data(0, 9), data(5, 20), data(12, 14), data(21, 30), data(30, 31), data(40, 41)]
    clusters = overlap_clusters(files)
    assert [[(f.first, f.last) for f in c] for c in clusters] == [
        [(0, 9), (5, 20), (12, 14)], [(21, 30), (30, 31)], [(40, 41)]
    ]  # fmt: skip
