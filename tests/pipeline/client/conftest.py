"""The SDK's outage tests share one broker of their own, which they stop and restart (the
session broker of tests/conftest.py must stay up for every other test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from restartable_broker import Broker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("sdk-outage-kafka"))
    try:
        yield broker
    finally:
        broker.stop()
