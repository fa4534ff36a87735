"""ThreadCounter: exact totals from many threads without a lock."""

from __future__ import annotations

import threading

from evalstream_client._counters import ThreadCounter


def test_many_threads_add_up_exactly() -> None:
    counter = ThreadCounter()

    def bump() -> None:
        for _ in range(20_000):
            counter.add()
        counter.add(5)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.value == 8 * 20_005
