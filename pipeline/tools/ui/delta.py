"""A Delta table as one of the UI's datasets: a :class:`~pipeline.tools.ui.layout.Dataset`
whose ``files()`` lists the data files of the table's current version (never files a
compaction or a retention removed but vacuum has not deleted yet), each with its
``date``/``hour`` partition. DuckDB then reads them in place like any Parquet file (delta-rs
writes plain Parquet: no deletion vectors, no column mapping)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.sinks.delta_table import is_delta_table, live_files, open_table
from pipeline.tools.ui.layout import DataFile, Dataset


@dataclass(frozen=True)
class DeltaDataset(Dataset):
    def files(self) -> list[DataFile]:
        if not is_delta_table(self.root):
            return []
        found = []
        for live in live_files(open_table(self.root)):
            start = live.hour_start
            if start is not None:
                found.append(DataFile(live.uri, start, (live.size, live.modification_time_ms)))
        return sorted(found, key=lambda f: (f.hour_start, f.path))
