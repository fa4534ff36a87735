"""Exception hierarchy of the pipeline package."""


class PipelineError(Exception):
    """Root of every error raised by the pipeline package."""


class SettingsError(PipelineError):
    """An ``EVALSTREAM_*`` setting has an invalid value."""


class SinkError(PipelineError):
    """A sink (Parquet, Kafka topic) could not make data durable; the batch is not acked."""


class InputFileError(PipelineError):
    """A file given to ``evalstream publish`` cannot be read as traces."""


class CheckpointError(PipelineError):
    """An offset would move a partition's committed position backwards (a bug, never data)."""


class StorageError(PipelineError):
    """A dataset root is malformed (a bad URI), or its store cannot be reached or written."""
