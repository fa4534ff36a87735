"""Bytes from Kafka -> a validated :class:`schemas.Trace`, or a dead letter saying why not."""

from pipeline.decode.dead_letter import dead_letter_for
from pipeline.decode.trace import MAX_REASON, DecodeError, decode_trace

__all__ = ["MAX_REASON", "DecodeError", "dead_letter_for", "decode_trace"]
