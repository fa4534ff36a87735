"""Why a request is refused, independent of the protocol it came in on.

The HTTP and gRPC front ends share one publisher; it raises ``Refused`` with a protocol-neutral
``Reason`` and each front end maps it once (HTTP status + ``google.rpc.Status`` body, or a gRPC
status code + RetryInfo), so both answer the same situation the same way.
"""

from __future__ import annotations

from enum import Enum

from pipeline.ingest.exceptions import IngestError


class Reason(Enum):
    """What went wrong, with the HTTP status and gRPC code the OTLP spec pairs with it."""

    INVALID = (400, 3)  # INVALID_ARGUMENT: malformed body; never retried
    UNAUTHENTICATED = (401, 16)
    TOO_LARGE = (413, 3)
    UNSUPPORTED = (415, 3)
    BUSY = (429, 8)  # RESOURCE_EXHAUSTED + RetryInfo: retryable
    UNAVAILABLE = (503, 14)  # UNAVAILABLE: Kafka down or slow, receiver stopping; retryable

    @property
    def http_status(self) -> int:
        return self.value[0]

    @property
    def grpc_code(self) -> int:
        return self.value[1]

    @property
    def retryable(self) -> bool:
        return self in (Reason.BUSY, Reason.UNAVAILABLE)


class Refused(IngestError):
    """A request the receiver does not accept; ``retry_after`` is set for retryable ones."""

    def __init__(self, reason: Reason, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
