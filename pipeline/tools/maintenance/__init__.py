"""Maintenance of the Parquet dataset: retention (drop old hours) and compaction.

The public entry points of ``evalstream retention`` and ``evalstream compact``
(:mod:`pipeline.cli.maintenance`). The code lives in these modules, each documenting
its rules:

* :mod:`pipeline.tools.maintenance.layout`: the Hive layout both work on
  (``date=YYYY-MM-DD/hour=HH/``, hours judged by directory name, never by file times), the
  ``<root>/.maintenance.lock`` that keeps two maintenance runs from overlapping, durations
  and ``MaintenanceError``;
* :mod:`pipeline.tools.maintenance.retention`: deleting the hours that ended more than a given
  age ago;
* :mod:`pipeline.tools.maintenance.compaction`: merging the small files of closed hours, crash
  safety and why it is safe beside a live worker (which takes no lock and needs none), with
  :mod:`~pipeline.tools.maintenance.recovery` (the clean-up after a killed compaction),
  :mod:`~pipeline.tools.maintenance.overlaps` (healing a zombie worker's overlapping files
  into one holding each row once) and
  :mod:`~pipeline.tools.maintenance.compaction_report` (what a run did, or why it did not);
* :mod:`pipeline.tools.maintenance.delta`: the same two commands on a Delta table (OPTIMIZE,
  DELETE by partition, VACUUM).
"""

from __future__ import annotations

from pipeline.tools.maintenance.compaction import (
    ROW_KEY,
    SORT_KEY,
    CompactReport,
    Heal,
    Merge,
    compact,
)
from pipeline.tools.maintenance.layout import (
    LOCK_NAME,
    TMP_GRACE,
    DataFile,
    HourDir,
    MaintenanceError,
    hour_dirs,
    maintenance_lock,
    parse_data_file,
    parse_duration,
)
from pipeline.tools.maintenance.retention import ExpiredHour, RetentionReport, apply_retention

__all__ = [
    "LOCK_NAME",
    "ROW_KEY",
    "SORT_KEY",
    "TMP_GRACE",
    "CompactReport",
    "DataFile",
    "ExpiredHour",
    "Heal",
    "HourDir",
    "MaintenanceError",
    "Merge",
    "RetentionReport",
    "apply_retention",
    "compact",
    "hour_dirs",
    "maintenance_lock",
    "parse_data_file",
    "parse_duration",
]
