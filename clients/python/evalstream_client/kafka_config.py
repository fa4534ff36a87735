"""kafka-python configuration of the SDK's clients, from ``ClientSettings``.

kafka-python (pure Python, no event loop) is the client of the app side: it works from any
thread of any application, sync or async, and pulls in neither faust nor aiokafka. The
security part reads the same ``EVALSTREAM_SECURITY_PROTOCOL`` / ``_SASL_*`` / ``_SSL_*``
variables as the worker, so one environment configures both.
"""

from __future__ import annotations

import ssl
from typing import Any

from evalstream_client.exceptions import ClientSettingsError
from evalstream_client.settings import ClientSettings


def producer_config(settings: ClientSettings, client_id: str, **overrides: Any) -> dict[str, Any]:
    """An idempotent, acks=all producer that never waits long inside ``send``.

    ``max_block_ms`` bounds how long ``send`` may wait for topic metadata (kafka-python 3 has
    no ``buffer_memory``: its accumulator is bounded by TraceProducer's in-flight limit
    instead); only SDK background threads call ``send``, never the application's. A short
    reconnect backoff makes the producer notice a restarted broker within a second, not 30 s.
    """
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 128 * 1024,
        "max_block_ms": 2_000,
        "bootstrap_timeout_ms": 5_000,
        "delivery_timeout_ms": 120_000,
        "reconnect_backoff_max_ms": 1_000,
        **security_kwargs(settings),
        **overrides,
    }


def consumer_config(
    settings: ClientSettings, group_id: str | None, **overrides: Any
) -> dict[str, Any]:
    """A consumer that commits only when told to (the caller decides what is processed)."""
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": "evalstream-sdk-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "bootstrap_timeout_ms": 10_000,
        **security_kwargs(settings),
        **overrides,
    }


def security_kwargs(settings: ClientSettings) -> dict[str, Any]:
    """SASL and TLS keyword arguments of kafka-python's clients (PLAINTEXT: none but one)."""
    protocol = settings.security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        if settings.sasl_username is None or settings.sasl_password is None:
            raise ClientSettingsError(
                f"EVALSTREAM_SECURITY_PROTOCOL={protocol} needs EVALSTREAM_SASL_USERNAME"
                " and EVALSTREAM_SASL_PASSWORD"
            )
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = settings.sasl_password
    if protocol.endswith("SSL"):
        kwargs["ssl_context"] = _tls_context(settings)
    return kwargs


def _tls_context(settings: ClientSettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=_str(settings.ssl_cafile))
        if settings.ssl_certfile:
            context.load_cert_chain(str(settings.ssl_certfile), _str(settings.ssl_keyfile))
    except (OSError, ssl.SSLError) as exc:
        raise ClientSettingsError(f"cannot load the TLS files: {exc}") from None
    return context


def _str(path: object) -> str | None:
    return str(path) if path else None
