"""The local broker's one error."""

from __future__ import annotations

from pipeline.exceptions import PipelineError


class BrokerError(PipelineError):
    """The local broker could not be fetched, started, reached or stopped."""
