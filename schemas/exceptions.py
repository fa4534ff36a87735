"""Errors raised by the schemas package."""


class SchemaError(Exception):
    """Root of every error raised by the schemas package."""


class TraceValidationError(SchemaError):
    """A message could not be turned into a valid trace; the message says why."""
