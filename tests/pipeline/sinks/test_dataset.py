"""The dataset layout: names are built and parsed by one module, and read back the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.sinks.dataset import (
    data_files,
    file_name,
    hour_dirs,
    parse_data_file,
    partition_dir,
    partition_of,
)


def touch(path) -> Path:
    path = Path(path)  # a local Location is path-like
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_built_name_parses_back():
    name = file_name("backfill-my-topic-p1", 3, 1200, 1699)
    assert name == "backfill-my-topic-p1-p3-o000000001200-000000001699.parquet"
    data = parse_data_file(Path(name))
    assert (data.topic, data.partition, data.first, data.last) == (
        "backfill-my-topic-p1",
        3,
        1200,
        1699,
    )
    assert parse_data_file(Path(f".{name}.tmp")) is None


def test_partition_dir_of_a_timestamp():
    assert partition_of("2026-11-25T14:05:09.123Z") == ("2026-11-25", "14")
    assert partition_dir(Path("/r"), "2026-11-25", "14") == Path("/r/date=2026-11-25/hour=14")


def test_data_files_filters_by_topic_and_partition_exactly(tmp_path):
    hour = partition_dir(tmp_path, "2026-11-25", "14")
    a0 = touch(hour / file_name("scored", 0, 0, 9))
    touch(hour / file_name("scored", 1, 0, 9))
    touch(hour / file_name("scored-x", 0, 0, 9))  # another topic with the same prefix
    touch(hour / file_name("[odd]*", 0, 0, 9))  # glob characters in a topic name
    touch(hour / "notes.parquet")
    assert [d.path for d in data_files(tmp_path, "scored", 0)] == [a0]
    assert len(data_files(tmp_path, "scored")) == 2
    assert [d.topic for d in data_files(tmp_path, "[odd]*")] == ["[odd]*"]
    assert len(data_files(tmp_path)) == 4


def test_hour_dirs_are_sorted_and_ignore_strays(tmp_path):
    for date, hour in [("2026-11-25", "14"), ("2026-11-24", "03"), ("2026-11-24", "25")]:
        Path(partition_dir(tmp_path, date, hour)).mkdir(parents=True)
    (tmp_path / "date=nonsense" / "hour=01").mkdir(parents=True)
    starts = [h.start for h in hour_dirs(tmp_path)]
    assert starts == [datetime(2026, 11, 24, 3, tzinfo=UTC), datetime(2026, 11, 25, 14, tzinfo=UTC)]
