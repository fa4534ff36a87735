"""How to reach an S3 (or S3-compatible) store: :class:`S3Options` from ``EVALSTREAM_S3_*``
over the standard AWS variables, and pyarrow's filesystem built from them. boto3's client for
the conditional PUTs is built from the same options (:func:`pipeline.sinks.objects.s3_client`),
so both talk to the same endpoint with the same keys."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs

from pipeline.exceptions import StorageError
from pipeline.sinks.endpoint import parse_endpoint


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3 (or S3-compatible) store; ``None`` leaves the choice to the SDKs."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    conditional_put: bool = True
    connect_timeout: float = 5.0

    @classmethod
    def from_env(cls, settings: Any = None) -> S3Options:
        """``EVALSTREAM_S3_*`` settings (when given) over the standard AWS variables."""

        def pick(name: str, *env: str) -> str | None:
            value = getattr(settings, name, None) if settings is not None else None
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            for var in env:
                value = value or os.environ.get(var) or None
            return value

        return cls(
            endpoint_url=pick("s3_endpoint_url", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            region=pick("s3_region", "AWS_REGION", "AWS_DEFAULT_REGION"),
            access_key_id=pick("s3_access_key_id", "AWS_ACCESS_KEY_ID"),
            secret_access_key=pick("s3_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            session_token=pick("s3_session_token", "AWS_SESSION_TOKEN"),
            conditional_put=getattr(settings, "s3_conditional_put", True),
            connect_timeout=getattr(settings, "s3_connect_timeout_seconds", 5.0),
        )

    def storage_options(self) -> dict[str, str]:
        """These settings as object_store / delta-rs keys."""
        options = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region or "us-east-1",
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        if self.endpoint_url and self.endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
        return {key: value for key, value in options.items() if value}


def s3_filesystem(options: S3Options, bucket: str) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for these options (``bucket`` only names it in errors)."""
    kwargs: dict[str, Any] = {
        "region": options.region or "us-east-1",
        "connect_timeout": options.connect_timeout,
        "request_timeout": max(30.0, options.connect_timeout),
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    if options.endpoint_url:
        endpoint = parse_endpoint(options.endpoint_url, "S3")
        kwargs["endpoint_override"] = endpoint.netloc + endpoint.path.rstrip("/")
        kwargs["scheme"] = endpoint.scheme
    if options.access_key_id and options.secret_access_key:
        kwargs["access_key"] = options.access_key_id
        kwargs["secret_key"] = options.secret_access_key
        if options.session_token:
            kwargs["session_token"] = options.session_token
    try:
        return pafs.S3FileSystem(**kwargs)
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot configure S3 for s3://{bucket}: {exc}") from None
