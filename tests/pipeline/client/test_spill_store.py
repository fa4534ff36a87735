"""SpillStore on a real file system: no I/O in append, nothing lost or doubled on write errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalstream_client.spill import SpillStore


def _lines(store: SpillStore) -> list[bytes]:
    handled: list[bytes] = []
    store.replay(lambda chunk: handled.extend(chunk) or True)
    return handled


def test_append_does_no_io_until_sync(tmp_path: Path) -> None:
    store = SpillStore(tmp_path / "spill")
    store.append(b'{"trace_id": "a"}')
    assert store.has_active
    assert not (tmp_path / "spill").exists()  # the caller's thread never touched the disk
    store.sync()
    [segment] = (tmp_path / "spill").glob("spill-*.jsonl")
    assert segment.read_bytes() == b'{"trace_id": "a"}\n'
    store.close()
    assert _lines(SpillStore(tmp_path / "spill")) == [b'{"trace_id": "a"}\n']


def test_write_error_keeps_the_lines_for_the_next_sync(tmp_path: Path) -> None:
    blocker = tmp_path / "spill"
    blocker.write_text("a file where the spill directory should be")
    store = SpillStore(blocker)
    for i in range(3):
        store.append(f'{{"trace_id": "{i}"}}'.encode())
    with pytest.raises(OSError):
        store.sync()
    store.append(b'{"trace_id": "3"}')
    blocker.unlink()
    store.close()  # writes everything kept, in order, exactly once
    expected = [f'{{"trace_id": "{i}"}}\n'.encode() for i in range(4)]
    assert _lines(SpillStore(blocker)) == expected
