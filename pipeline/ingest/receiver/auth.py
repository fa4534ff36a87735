"""Who may export: a bearer token, an API-key header, or both (either one suffices).

OTel exporters send credentials as configured headers (``OTEL_EXPORTER_OTLP_HEADERS``), as
HTTP headers or gRPC metadata; the seed's form is ``api_key=12345``. Both protocols hand the
check a case-insensitive header lookup, so the rules cannot drift apart. Comparisons are
constant-time and secrets never appear in messages.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.exceptions import SettingsError
from pipeline.ingest.receiver.refusal import Reason, Refused
from pipeline.settings import Settings

HeaderLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Authenticator:
    """Checks one request's headers; no credential configured means everyone may export."""

    token: bytes | None = None
    header_name: str | None = None
    header_value: bytes | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        token = settings.receiver_token
        name = value = None
        if settings.receiver_auth_header is not None:
            name, value = parse_header_setting(settings.receiver_auth_header.get_secret_value())
        return cls(
            token=token.get_secret_value().encode() if token else None,
            header_name=name,
            header_value=value.encode() if value is not None else None,
        )

    @property
    def required(self) -> bool:
        return self.token is not None or self.header_name is not None

    def describe(self) -> str:
        parts = []
        if self.token is not None:
            parts.append("bearer token")
        if self.header_name is not None:
            parts.append(f"header {self.header_name}")
        return " or ".join(parts) + " required" if parts else "no auth"

    def check(self, header: HeaderLookup) -> None:
        """Return when the request may export; ``Refused(UNAUTHENTICATED)`` otherwise."""
        if not self.required:
            return
        if self.token is not None:
            scheme, _, given = (header("authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), self.token):
                return
        if self.header_name is not None and self.header_value is not None:
            given = header(self.header_name)
            if given is not None and hmac.compare_digest(given.encode(), self.header_value):
                return
        raise Refused(Reason.UNAUTHENTICATED, f"missing or invalid credentials ({self.describe()})")


def parse_header_setting(raw: str) -> tuple[str, str]:
    """``api_key=12345`` (the OTEL_EXPORTER_OTLP_HEADERS form) -> ``("api_key", "12345")``."""
    name, sep, value = raw.partition("=")
    name = name.strip().lower()
    if not sep or not name or not value:
        raise SettingsError("EVALSTREAM_RECEIVER_AUTH_HEADER must look like name=value")
    return name, value.strip()
