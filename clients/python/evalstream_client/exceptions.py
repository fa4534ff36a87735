"""Errors of the app-side SDK; all derive from ``ClientError``.

``ClientError`` is its own root (not the worker's ``PipelineError``): the SDK is installed
without the worker, so it cannot derive from anything of the worker's.
"""

from __future__ import annotations


class ClientError(Exception):
    """Root of every error raised by the SDK."""


class ClientSettingsError(ClientError, ValueError):
    """An ``EVALSTREAM_*`` setting of the SDK has an invalid value."""


class QueueFullError(ClientError):
    """``log_trace`` under the ``block`` policy waited its limit and the queue stayed full.

    Raised instead of waiting forever so a stuck Kafka never hangs the application silently.
    """


class ProducerClosedError(ClientError):
    """``log_trace`` was called after ``close()``."""


class TraceNotDeliveredError(ClientError):
    """A synchronous ``log_trace`` saw no acknowledgement from Kafka within ``sync_timeout``.

    The trace is not lost: it stays with the producer, which keeps retrying it and spills it
    when retries run out, exactly as in asynchronous mode. Logging it again would send it twice.
    """

    def __init__(self, message: str, trace_id: str) -> None:
        super().__init__(message)
        self.trace_id = trace_id
