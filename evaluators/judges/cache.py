"""Verdict cache keyed by a content hash, so a replayed or duplicated trace costs nothing.

The key hashes what decides the verdict (kind, model, prompt version, the prompt's trace
fields), never the trace id: the same question and answer in two traces is judged once.
Entries are plain JSON dicts so the in-memory and the SQLite cache hold the same thing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol


def cache_key(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class VerdictCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class NoCache:
    """``cache_size = 0``."""

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryCache:
    """Least-recently-used eviction beyond ``size`` entries; thread-safe."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be >= 1")
        self.size = size
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def close(self) -> None:
        return None


class SqliteCache:
    """A file that survives restarts; the oldest-used entries go beyond ``size``.

    One connection shared under a lock: verdicts are small and a judge call takes seconds,
    so the cache is never the bottleneck.
    """

    def __init__(self, path: str | Path, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be >= 1")
        self.size = size
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS verdicts "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL, used REAL NOT NULL)"
            )
            self._conn.execute("CREATE INDEX IF NOT EXISTS verdicts_used ON verdicts(used)")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM verdicts WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE verdicts SET used = ? WHERE key = ?", (time.time(), key))
        return json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO verdicts (key, value, used) VALUES (?, ?, ?)",
                (key, text, time.time()),
            )
            self._conn.execute(
                "DELETE FROM verdicts WHERE key IN (SELECT key FROM verdicts "
                "ORDER BY used DESC LIMIT -1 OFFSET ?)",
                (self.size,),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_cache(size: int, path: str | None) -> VerdictCache:
    if size == 0:
        return NoCache()
    if path:
        return SqliteCache(path, size)
    return MemoryCache(size)
