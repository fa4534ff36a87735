"""Errors of the app-side SDK (``pipeline.client``); all derive from ``PipelineError``."""

from __future__ import annotations

from pipeline.exceptions import PipelineError


class ClientError(PipelineError):
    """Root of every error raised by ``pipeline.client``."""


class QueueFullError(ClientError):
    """``log_trace`` under the ``block`` policy waited its limit and the queue stayed full.

    Raised instead of waiting forever so a stuck Kafka never hangs the application silently.
    """


class ProducerClosedError(ClientError):
    """``log_trace`` was called after ``close()``."""
