"""Kafka security settings (SASL PLAIN/SCRAM, TLS) translated for each client library.

One place reads ``EVALSTREAM_SECURITY_PROTOCOL``, ``EVALSTREAM_SASL_*`` and
``EVALSTREAM_SSL_*``; kafka-python (CLI, SDK), aiokafka (receiver) and faust (worker) get the
same configuration. The password stays a ``SecretStr`` until the moment a client needs it.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from pipeline.exceptions import SettingsError
from pipeline.settings import Settings


def _uses_sasl(settings: Settings) -> bool:
    return settings.security_protocol.startswith("SASL")


def _uses_tls(settings: Settings) -> bool:
    return settings.security_protocol.endswith("SSL")


def _password(settings: Settings) -> str:
    if settings.sasl_username is None or settings.sasl_password is None:
        raise SettingsError(
            f"EVALSTREAM_SECURITY_PROTOCOL={settings.security_protocol} needs"
            " EVALSTREAM_SASL_USERNAME and EVALSTREAM_SASL_PASSWORD"
        )
    return settings.sasl_password.get_secret_value()


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context from the CA / client certificate files, or None."""
    if not _uses_tls(settings):
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
        if settings.ssl_certfile:
            context.load_cert_chain(
                str(settings.ssl_certfile),
                str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"cannot load TLS files: {exc}") from None
    return context


def tls_handshake_problem(settings: Settings, timeout: float = 5.0) -> str | None:
    """Why a TLS handshake with the first bootstrap server fails, or None.

    Kafka clients report a refused certificate as 'no broker available' after their
    timeout; this one handshake names the cause (e.g. 'certificate verify failed: unable to
    get local issuer certificate') so the error can say which setting to fix.
    """
    context = ssl_context(settings)
    if context is None or not settings.bootstrap_list:
        return None
    host, _, port = settings.bootstrap_list[0].rpartition(":")
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return (
            f"TLS certificate verify failed: {exc.verify_message}; check"
            " EVALSTREAM_SSL_CAFILE (the CA that signed the broker's certificate)"
        )
    except ssl.SSLError as exc:
        return f"TLS handshake with {host}:{port} failed: {exc.reason or exc}"
    except (OSError, ValueError):
        return None  # not a TLS problem: the caller's own message applies


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin clients."""
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if _uses_sasl(settings):
        kwargs.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=_password(settings),
        )
    if _uses_tls(settings):
        kwargs["ssl_context"] = ssl_context(settings)
    return kwargs


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients (same names as kafka-python's)."""
    return kafka_python_kwargs(settings)


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT)."""
    import faust

    if _uses_sasl(settings):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=_password(settings),
            mechanism=settings.sasl_mechanism,
            ssl_context=ssl_context(settings),
        )
    if _uses_tls(settings):
        return faust.SSLCredentials(ssl_context(settings))
    return None
