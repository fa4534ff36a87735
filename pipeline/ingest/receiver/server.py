"""``evalstream receiver``: OTLP/gRPC (4317) and OTLP/HTTP (4318) in one process, one producer.

Both endpoints share one ``SpanPublisher`` on one event loop, so a span costs the same and
means the same whichever protocol carried it. Either endpoint can be turned off (port 0).
A port already in use is a ``ReceiverStartError`` (one line, exit 2 in the CLI), not a
traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

from aiohttp import web

from pipeline import prometheus
from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.receiver.auth import Authenticator
from pipeline.ingest.receiver.grpc_service import grpc_server
from pipeline.ingest.receiver.http import HttpFrontEnd
from pipeline.ingest.receiver.http2_probe import install_http2_notice
from pipeline.ingest.receiver.publish import ReceiverLimits, SpanPublisher
from pipeline.kafka.log_repeats import fold_repeated_kafka_lines
from pipeline.kafka.metadata_backoff import install_metadata_backoff
from pipeline.settings import Settings, load_settings

log = logging.getLogger(__name__)


class ReceiverStartError(IngestError):
    """The receiver cannot start (a port in use, no port at all); the message says which."""


def _endpoints(settings: Settings) -> str:
    host, parts = settings.receiver_host, []
    if settings.receiver_grpc_port:
        parts.append(f"OTLP/gRPC on {host}:{settings.receiver_grpc_port}")
    if settings.receiver_port:
        parts.append(f"OTLP/HTTP on http://{host}:{settings.receiver_port}/v1/traces")
    return ", ".join(parts)


def _check_free(host: str, port: int, protocol: str) -> None:
    """Fail in one line before Kafka is contacted (gRPC's own bind error is a C-core log)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ReceiverStartError(
                f"cannot listen on {host}:{port} ({protocol}): {exc.strerror or exc}"
            ) from None


async def serve(
    settings: Settings,
    *,
    ready: asyncio.Event | None = None,
    limits: ReceiverLimits | None = None,
) -> None:
    """Run until cancelled; then stop accepting, finish requests, flush Kafka."""
    if not settings.receiver_port and not settings.receiver_grpc_port:
        raise ReceiverStartError("both receiver ports are 0: nothing to listen on")
    for port, protocol in ((settings.receiver_grpc_port, "gRPC"), (settings.receiver_port, "HTTP")):
        if port:
            _check_free(settings.receiver_host, port, protocol)
    auth = Authenticator.from_settings(settings)
    publisher = SpanPublisher(settings, limits)
    prometheus.serve_metrics(settings.metrics_port)
    await publisher.start()
    runner: web.AppRunner | None = None
    server = None
    try:
        if settings.receiver_grpc_port:
            server = grpc_server(publisher, auth)
            address = f"{settings.receiver_host}:{settings.receiver_grpc_port}"
            server.add_insecure_port(address)
            await server.start()
        if settings.receiver_port:
            install_http2_notice(settings.receiver_grpc_port)
            runner = web.AppRunner(
                HttpFrontEnd(publisher, auth).web_app(),
                handle_signals=False,
                access_log=None,
                auto_decompress=False,  # body.read_body inflates: OTLP answers for bad encodings
            )
            await runner.setup()
            site = web.TCPSite(
                runner, settings.receiver_host, settings.receiver_port, shutdown_timeout=30.0
            )
            try:
                await site.start()
            except OSError as exc:
                address = f"{settings.receiver_host}:{settings.receiver_port}"
                raise ReceiverStartError(
                    f"cannot listen on {address} (HTTP): {exc.strerror or exc}"
                ) from None
        log.info("%s -> %s", _endpoints(settings), settings.spans_topic)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        publisher.stopping = True
        if server is not None:
            await server.stop(grace=30.0)  # refuses new calls, lets in-flight ones finish
        if runner is not None:
            await runner.cleanup()  # stops listening, waits for in-flight handlers
        await publisher.stop()


def run_receiver(settings: Settings, limits: ReceiverLimits | None = None) -> None:
    """Blocking entry point: SIGTERM / SIGINT shut the receiver down gracefully."""
    fold_repeated_kafka_lines(settings.outage_log_interval)  # aiokafka is imported by now
    install_metadata_backoff()

    async def main() -> None:
        task = asyncio.ensure_future(serve(settings, limits=limits))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def receiver_command(host: str | None, http_port: int | None, grpc_port: int | None) -> None:
    """What ``evalstream receiver`` runs (the CLI maps flags and prints errors)."""
    settings = load_settings(
        receiver_host=host, receiver_port=http_port, receiver_grpc_port=grpc_port
    )
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    auth = Authenticator.from_settings(settings)
    print(
        f"{_endpoints(settings)} ({auth.describe()}) -> {settings.spans_topic}"
        f" ({settings.spans_encoding})",
        flush=True,
    )
    run_receiver(settings)
