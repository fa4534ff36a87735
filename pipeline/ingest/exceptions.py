"""Errors of the ingest package (span decoding, convention mapping, export conversion)."""

from pipeline.exceptions import PipelineError


class IngestError(PipelineError):
    """Input could not be turned into traces; the message names what was expected."""
