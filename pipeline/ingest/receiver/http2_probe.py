"""One clear line, not a traceback, when HTTP/2 (gRPC) reaches the OTLP/HTTP port.

The OTel exporters default to gRPC; pointed at 4318 they send the HTTP/2 connection preface
(``PRI * HTTP/2.0``), which aiohttp's HTTP/1 parser rejects and logs with a traceback on
every retry. This filter on aiohttp's server logger turns exactly that record into one
warning naming the gRPC port; every other record passes unchanged.
"""

from __future__ import annotations

import logging

_SERVER_LOGGER = "aiohttp.server"


class Http2OnHttpPortNotice(logging.Filter):
    """Rewrites aiohttp's parse-error record for an HTTP/2 preface into a one-line warning."""

    def __init__(self, grpc_port: int) -> None:
        super().__init__()
        if grpc_port:
            self.hint = f"OTLP/gRPC listens on port {grpc_port}; point gRPC exporters there"
        else:
            self.hint = "gRPC is off (--grpc-port 0); set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_http2(exc):
            record.msg = "an HTTP/2 (gRPC) request reached the OTLP/HTTP port: %s"
            record.args = (self.hint,)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _is_http2(exc: BaseException) -> bool:
    text = f"{exc} {getattr(exc, 'message', '')}"
    return any(mark in text for mark in ("HTTP/2", "PRI *", "PRI/Upgrade"))  # by aiohttp version


def install_http2_notice(grpc_port: int) -> None:
    """Add the filter once (idempotent: a second receiver in one process adds nothing)."""
    logger = logging.getLogger(_SERVER_LOGGER)
    for existing in logger.filters:
        if isinstance(existing, Http2OnHttpPortNotice):
            logger.removeFilter(existing)
    logger.addFilter(Http2OnHttpPortNotice(grpc_port))
