"""Which files hold a given trace id (or session id), without scanning every file each time.

Trace ids are random, so Parquet min/max statistics cannot skip a file: finding one trace in a
million means reading a million ids. This index remembers, per file, the sorted 64-bit DuckDB
hashes of one column (8 bytes a row, no copy of the data); a lookup is a binary search per
file and names the few files to read. Files are immutable once written (a replayed file gets a
new signature and is indexed again), so each file is indexed once, the first time it is needed.
A hash collision only costs reading one more file: the query still filters on the real value.
"""

from __future__ import annotations

import threading
from datetime import datetime

import numpy as np

from pipeline.tools.ui.layout import DataFile
from pipeline.tools.ui.store import Store


def file_rows(rows: np.ndarray) -> np.ndarray:
    """Row positions in one file (``file_row_number``) in as few bytes as they fit: 2 a row
    where the file has fewer than 65,536 rows, else 4."""
    small = len(rows) == 0 or int(rows.max()) < 65_536
    return rows.astype(np.uint16 if small else np.uint32)


class KeyIndex:
    def __init__(self, store: Store, dataset: str, column: str) -> None:
        self.store = store
        self.dataset = dataset
        self.column = column  # one of our contract's column names, never user input
        self._hashes: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self._rows: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        """Each hash's row position in its file (``file_row_number``), 2 bytes a row where
        the file has fewer than 65,536 rows, else 4."""
        self._lock = threading.Lock()

    def _index(self, files: list[DataFile]) -> None:
        with self._lock:
            todo = [f for f in files if (f.path, f.signature) not in self._hashes]
            if not todo:
                return
            cursor = self.store.connection.cursor()
            try:
                table = cursor.sql(
                    f"SELECT filename, hash({self.column}) AS h, file_row_number AS r FROM"
                    " read_parquet(?, filename = true, union_by_name = true,"
                    " file_row_number = true)",
                    params=[[f.path for f in todo]],
                ).to_arrow_table()
            finally:
                cursor.close()
            names = table["filename"].combine_chunks().dictionary_encode()
            codes = names.indices.to_numpy()
            hashes = table["h"].to_numpy()
            rows = table["r"].to_numpy()
            order = np.lexsort((hashes, codes))
            codes, hashes, rows = codes[order], hashes[order], rows[order]
            bounds = np.searchsorted(codes, np.arange(len(names.dictionary) + 1))
            spans = [slice(bounds[i], bounds[i + 1]) for i in range(len(names.dictionary))]
            by_path = {
                path: (hashes[part], file_rows(rows[part]))
                for path, part in zip(names.dictionary.to_pylist(), spans, strict=True)
            }
            empty = (np.empty(0, np.uint64), np.empty(0, np.uint16))
            for f in todo:
                found = by_path.get(f.path, empty)
                self._hashes[(f.path, f.signature)], self._rows[(f.path, f.signature)] = found

    def files_with_keys(self, keys: np.ndarray) -> list[DataFile]:
        """The files that may hold rows whose column hashes to one of ``keys`` (sorted)."""
        files = self.store.files(self.dataset)
        self._index(files)
        found = []
        for f in files:
            hashes = self._hashes[(f.path, f.signature)]
            if len(hashes):
                at = np.minimum(np.searchsorted(hashes, keys), len(hashes) - 1)
                if (hashes[at] == keys).any():
                    found.append(f)
        return found

    def rows_with_keys(self, keys: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per file that may hold them: the row positions whose column hashes to one of
        ``keys`` (sorted), and those rows' hashes."""
        files = self.store.files(self.dataset)
        self._index(files)
        found = {}
        for f in files:
            hashes = self._hashes[(f.path, f.signature)]
            if len(hashes):
                low = np.searchsorted(hashes, keys, "left")
                high = np.searchsorted(hashes, keys, "right")
                if (high > low).any():
                    at = np.concatenate([np.arange(a, b) for a, b in zip(low, high, strict=True)])
                    found[f.path] = (self._rows[(f.path, f.signature)][at], hashes[at])
        return found

    def files_with(self, value: str) -> list[DataFile]:
        """The files that may hold rows with ``column = value`` (all that do, maybe one more)."""
        return self.files_with_keys(np.array([hash_of(self.store, value)], np.uint64))


def hash_of(store: Store, value: str) -> int:
    """DuckDB's ``hash`` of a string, the key the indexes keep (remembered: one query per
    value, however many indexes are asked)."""
    key = ("hash", value)
    found = store.memo.get(key)
    if found is None:
        found = int(store.value("SELECT hash(?::VARCHAR)", [value]))
        store.memo.put(key, found)
    return found


def files_with_any(store: Store, dataset: str, column: str, values: list[str]) -> frozenset[str]:
    """Paths of the files that may hold any of ``values`` (one pass over the files)."""
    keys = [r["h"] for r in store.rows("SELECT hash(unnest(?::VARCHAR[])) AS h", [values])]
    found = index(store, dataset, column).files_with_keys(np.sort(np.asarray(keys, np.uint64)))
    return frozenset(f.path for f in found)


def index(store: Store, dataset: str, column: str) -> KeyIndex:
    """The store's index of ``dataset.column`` (made on first use, kept with the store)."""
    key = ("index", dataset, column)
    found = store.memo.get(key)
    if found is None:
        found = KeyIndex(store, dataset, column)
        store.memo.put(key, found)
    return found


def hours_with(store: Store, dataset: str, column: str, value: str) -> frozenset[datetime]:
    """The hour partitions whose files may hold ``column = value``."""
    return frozenset(f.hour_start for f in index(store, dataset, column).files_with(value))


def paths_with(store: Store, dataset: str, column: str, value: str) -> frozenset[str]:
    """The paths of the files that may hold ``column = value`` (a trace detail reads those,
    not every file of their hours)."""
    return frozenset(f.path for f in index(store, dataset, column).files_with(value))
