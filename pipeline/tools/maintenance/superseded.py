"""Compaction's last word on a zombie worker's file (:mod:`pipeline.sinks.fence`): a file of
owner epoch *e* whose offsets overlap a file of a newer epoch of the same partition and hour.

Such a file can only be a zombie's that died between writing and looking for a newer claim:
the newer owner claimed its epoch, then deleted every file past the committed offset, and
read on from there, so an older owner's file reaching into the newer owner's range was never
committed and its rows are the newer owner's too. It is deleted once every one of its rows
(by the dataset's row key: trace, evaluator, source offset ...) is found in the newer files
it overlaps; otherwise it is reported and kept. Files without an epoch (backfill, merged
files) are never judged here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from pipeline.sinks.dataset import DataFile
from pipeline.sinks.storage import Location


def drop_superseded(
    files: list[DataFile],
    row_keys: Callable[[Location], Counter],
    dry_run: bool,
    recovered: list[Location],
    skipped: list[tuple[Location, str]],
) -> list[DataFile]:
    """``files`` (one partition, one hour) without the older-epoch files that newer ones
    cover row for row; those are deleted (unless ``dry_run``) and listed in ``recovered``."""
    keep = list(files)
    for old in sorted((f for f in files if f.epoch is not None), key=lambda f: f.epoch or 0):
        newer = [
            f
            for f in keep
            if f.epoch is not None
            and f.epoch > (old.epoch or 0)
            and f.overlaps(old.first, old.last)
        ]
        if not newer:
            continue
        covered: Counter = Counter()
        for other in newer:
            covered += row_keys(other.path)
        if row_keys(old.path) - covered:
            skipped.append((old.path, "overlaps a newer owner's file but holds other rows; kept"))
            continue
        if not dry_run:
            old.path.delete()
        recovered.append(old.path)
        keep.remove(old)
    return keep
