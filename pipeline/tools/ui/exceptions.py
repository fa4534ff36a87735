"""Errors of the web UI and ``evalstream trace show``."""

from __future__ import annotations

from pipeline.exceptions import PipelineError


class UIError(PipelineError):
    """Root of every error raised by the UI package (a ``PipelineError``, so the CLI prints it
    as one line)."""


class BadQueryError(UIError):
    """A query parameter has an invalid value; the web app answers 400 with this message."""


class TraceNotFoundError(UIError):
    """No stored result or trace has this trace id."""
