"""The app-side SDK, under the import path the docs have always used.

The code lives in ``evalstream_client`` (its own light distribution, ``evalstream-client``,
which the full package depends on), so an application can install the SDK without the worker
and both installed side by side share one copy: ``pipeline.client.TraceProducer is
evalstream_client.TraceProducer``. Every name is resolved on first use, like the SDK's own
lazy parts (the consumer, the span exporter). See docs/sdk.md.
"""

from __future__ import annotations

from typing import Any

import evalstream_client

__all__ = list(evalstream_client.__all__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(evalstream_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
