"""Spill files: traces that did not fit in memory, appended to disk and replayed later.

One JSON trace per line, so a spill file is also valid input for ``evalstream publish``.
A writer holds an exclusive ``flock`` on its active segment and a replayer only takes segments
it can lock: several producers (threads or processes) can share one ``spill_dir``, and the
segments of a crashed process are replayed by the next producer that starts. Replay progress
is kept in ``<segment>.offset`` after each handled chunk, so a crash during replay re-sends at
most one chunk.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

SEGMENT_GLOB = "spill-*.jsonl"


class SpillStore:
    """Append-only JSON-lines segments under one directory.

    ``append`` runs in the application's thread, so it does no I/O and takes no lock: it adds
    the line to an in-memory deque (atomic under the GIL). ``sync`` (write + fsync) runs in a
    background thread every few hundred milliseconds; ``rotate`` / ``close`` write what is
    left first.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._sync_lock = threading.Lock()  # guards the active file: writes, fsync, rotation
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._buffered: collections.deque[bytes] = collections.deque()  # not yet written
        self._dir_synced = True

    def append(self, line: bytes) -> None:
        self._buffered.append(line if line.endswith(b"\n") else line + b"\n")

    def _write_buffered(self) -> BinaryIO | None:
        """Move buffered lines into the active segment (opened on demand); sync lock held."""
        lines = []
        with contextlib.suppress(IndexError):  # drained from the left, appended on the right
            while True:
                lines.append(self._buffered.popleft())
        if not lines:
            return None
        data = memoryview(b"".join(lines))
        written = 0
        try:
            if self._file is None:
                self._open()
            assert self._file is not None
            while written < len(data):  # unbuffered file: a short write is possible
                written += self._file.write(data[written:]) or 0
        except OSError:  # keep the unwritten bytes for the next try: nothing lost or doubled
            self._buffered.appendleft(bytes(data[written:]))
            raise
        return self._file

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"spill-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        path = self.directory / name
        handle = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open, closed in rotate
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file, self._path, self._dir_synced = handle, path, False

    def write_pending(self, timeout: float) -> bool:
        """Hand the buffered lines to the OS (no fsync), if the file is free within ``timeout``.

        For a bounded ``close()``: written lines survive the process, and the fsync (which
        can take seconds on a busy disk) may follow in another thread.
        """
        if not self._sync_lock.acquire(timeout=max(timeout, 0)):
            return False
        try:
            self._write_buffered()
        finally:
            self._sync_lock.release()
        return True

    @property
    def has_active(self) -> bool:
        return self._file is not None or bool(self._buffered)

    def sync(self) -> None:
        """Make every appended line durable (write to the active segment, then fsync)."""
        with self._sync_lock:
            handle = self._write_buffered()
            if handle is None:
                return
            os.fsync(handle.fileno())
            if not self._dir_synced:  # the new file's directory entry must survive too
                _fsync_dir(self.directory)
                self._dir_synced = True

    def rotate(self) -> None:
        """Close the active segment (durably) so that it can be replayed."""
        with self._sync_lock:
            self._write_buffered()
            handle, self._file, self._path = self._file, None, None
            if handle is None:
                return
            os.fsync(handle.fileno())
            _fsync_dir(self.directory)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def segments(self) -> list[Path]:
        """Closed segments, oldest first (the active one of this store excluded)."""
        if not self.directory.is_dir():
            return []
        active = self._path
        return [p for p in sorted(self.directory.glob(SEGMENT_GLOB)) if p != active]

    def replay(self, handle_chunk: Callable[[list[bytes]], bool], chunk_size: int = 500) -> int:
        """Feed every closed segment to ``handle_chunk`` in chunks; return the lines handled.

        ``handle_chunk`` must account for every line it is given (sent, or spilled again);
        returning False stops the replay after recording progress (e.g. Kafka went away).
        Segments locked by a live writer or another replayer are skipped.
        """
        handled = 0
        for path in self.segments():
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                if os.fstat(handle.fileno()).st_nlink == 0:  # finished by another replayer
                    continue
                offsets = path.with_suffix(".offset")
                handle.seek(_read_offset(offsets))
                while lines := _read_chunk(handle, chunk_size):
                    keep_going = handle_chunk(lines)
                    handled += len(lines)
                    _write_offset(offsets, handle.tell())
                    if not keep_going:
                        return handled
                path.unlink()
                offsets.unlink(missing_ok=True)
        return handled

    def close(self) -> None:
        self.rotate()


def _read_chunk(handle: BinaryIO, size: int) -> list[bytes]:
    lines = []
    while len(lines) < size and (line := handle.readline()):
        lines.append(line)
    return lines


def _read_offset(path: Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip() or 0)
    return 0


def _write_offset(path: Path, offset: int) -> None:
    tmp = path.with_suffix(".offset.tmp")
    with open(tmp, "w") as out:
        out.write(str(offset))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
