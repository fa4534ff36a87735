"""The spans -> traces stage that runs inside the worker (``EVALSTREAM_SPANS_TOPIC``).

``stage`` holds the faust agent and timer that buffer spans per trace in a changelogged table
and emit a finished trace to the input topic; ``state`` is the pure per-trace buffer logic.
"""

from pipeline.ingest.assembler.stage import (
    SpanAssembler,
    decode_spans,
    install_assembler,
)

__all__ = ["SpanAssembler", "decode_spans", "install_assembler"]
