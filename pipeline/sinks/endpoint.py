"""An object store's endpoint setting (``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``, an
Azure ``BlobEndpoint``), checked once for every store: ``http(s)://host:port`` or one line."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from pipeline.exceptions import StorageError


def parse_endpoint(url: str, store: str) -> SplitResult:
    """*url* split, if it is an ``http``/``https`` URL with a host; else a one-line
    :class:`StorageError` naming *store* (``"S3"``, ``"GCS"``, ``"Azure blob"``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StorageError(f"{store} endpoint {url!r} is not a URL: write http(s)://host:port")
    return parts
