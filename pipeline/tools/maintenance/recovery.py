"""Recovery from a compaction killed between writing its merged file and deleting its inputs.

Such a run leaves the merged file *and* its inputs: readers see those rows twice until the
next run, which deletes each file whose offset range lies inside another file's range of
the same hour once every row of it (by the dataset's row key) is found in the container.
A contained file whose rows are not all there is reported and left alone.
"""

from __future__ import annotations

from collections import Counter

from pipeline.sinks.dataset import DatasetKind
from pipeline.sinks.objects import read_table
from pipeline.sinks.storage import Location
from pipeline.tools.maintenance.compaction_report import CompactReport
from pipeline.tools.maintenance.layout import DataFile, fsync_dir


def row_keys(path: Location, kind: DatasetKind) -> Counter:
    table = read_table(path, columns=list(kind.row_key))
    return Counter(zip(*(table.column(name).to_pylist() for name in kind.row_key), strict=True))


def recover_contained(
    files: list[DataFile], kind: DatasetKind, dry_run: bool, report: CompactReport
) -> list[DataFile] | None:
    """Delete files contained in another file's range whose rows it holds (a compaction
    killed before deleting its inputs). ``None``: leave this group alone."""
    by_size = sorted(files, key=lambda f: (f.first - f.last, f.first))  # widest first
    keep: list[DataFile] = []
    deleted = False
    containers: dict[Location, Counter] = {}
    for data in by_size:
        container = next((k for k in keep if k.contains(data)), None)
        if container is None:
            keep.append(data)
            continue
        if container.path not in containers:
            containers[container.path] = row_keys(container.path, kind)
        rows = row_keys(data.path, kind)
        if rows - containers[container.path]:
            report.skipped.append(
                (data.path, f"offsets inside {container.path.name} but rows are not; kept")
            )
            return None
        if not dry_run:
            data.path.delete()
            deleted = True
        report.recovered.append(data.path)
    if deleted:
        fsync_dir(files[0].path.parent)
    return keep
