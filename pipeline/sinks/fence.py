"""Owner epochs of the scored-topic partitions, so a zombie worker's late Parquet files never
stay beside its successor's (docs/guarantees.md, "Zombie fencing").

A worker that takes a partition over *claims* the next epoch before its crash clean-up: it
creates ``<results root>/_fence/<topic>-p<P>/<epoch>`` with the write-once create of the
store (a local link, a conditional PUT / ifGenerationMatch=0 / If-None-Match), so each epoch
has one owner. Its data files carry the epoch in their name (``...-o<first>-<last>-e<epoch>
.parquet``: a successor never writes a zombie's name), and after each flush it checks that no
newer epoch exists; if one does, it deletes the files that flush created for the partition.

Why nothing is left behind: the successor does *claim, then list and delete uncommitted
files*; the zombie does *write, then look for a newer claim*. On a store whose operations are
linearizable (local disk, S3, GCS, Azure), either the zombie's look comes after the claim,
and it deletes its own file, or it comes before, and then its write came before the claim and
so before the successor's listing, which deletes the file (its first offset is uncommitted).
What is left: a zombie killed between its write and its look (a file the next compaction
reports as overlapping). ``_fence`` starts with ``_``, so Parquet readers (pyarrow, pandas,
DuckDB, Spark) skip it, and the dataset layout ignores it.
"""

from __future__ import annotations

import contextlib
import os
import socket

from pipeline.exceptions import SinkError
from pipeline.sinks.objects import write_bytes
from pipeline.sinks.storage import Location, StorageError

FENCE_DIR = "_fence"
KEEP_EPOCHS = 3  # older claims are deleted by the next claim (a look lists, never counts)
_CLAIM_TRIES = 50


def fence_dir(root: Location, topic: str, partition: int) -> Location:
    return root / FENCE_DIR / f"{topic}-p{partition}"


def epochs(root: Location, topic: str, partition: int) -> list[int]:
    """The claimed epochs of a partition, oldest first."""
    found = []
    for info in fence_dir(root, topic, partition).listing():
        name = info.path.rsplit("/", 1)[-1]
        if name.isdigit():
            found.append(int(name))
    return sorted(found)


def claim(root: Location, topic: str, partition: int) -> int:
    """Claim the next epoch of the partition (one owner per epoch); raises ``SinkError``."""
    owner = f"{socket.gethostname()} pid {os.getpid()}\n".encode()
    try:
        claimed = epochs(root, topic, partition)
        epoch = (claimed[-1] if claimed else 0) + 1
        for _ in range(_CLAIM_TRIES):
            if write_bytes(fence_dir(root, topic, partition) / f"{epoch:012d}", owner,
                           replace=False):  # fmt: skip
                break
            epoch += 1  # another worker claimed it first: the next one
        else:
            raise SinkError(f"cannot claim an epoch of {topic} p{partition}: {_CLAIM_TRIES} taken")
        for old in claimed:
            if old <= epoch - KEEP_EPOCHS:
                with contextlib.suppress(StorageError):
                    (fence_dir(root, topic, partition) / f"{old:012d}").delete()
    except StorageError as exc:
        raise SinkError(str(exc)) from exc
    return epoch


def superseded(root: Location, topic: str, partition: int, epoch: int) -> bool:
    """Whether a newer owner claimed the partition after ``epoch``."""
    try:
        return any(other > epoch for other in epochs(root, topic, partition))
    except StorageError as exc:
        raise SinkError(str(exc)) from exc
