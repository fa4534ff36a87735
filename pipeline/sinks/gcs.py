"""How to reach Google Cloud Storage (or a local GCS emulator): :class:`GcsOptions` from
``EVALSTREAM_GCS_*`` over the standard ``STORAGE_EMULATOR_HOST`` variable, pyarrow's
filesystem built from them, and the write-once upload pyarrow cannot make.

Reads, listings and deletes go through ``pyarrow.fs.GcsFileSystem``. An object written once
(:func:`put_if_absent`) is uploaded by google-cloud-storage with ``ifGenerationMatch=0``: GCS
creates it only if no live object has that name, atomically, and answers 412 otherwise. Both
clients use the same endpoint; credentials are Google's application default credentials,
or none (anonymous) against an emulator.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow.fs as pafs

from pipeline.exceptions import StorageError
from pipeline.sinks.endpoint import parse_endpoint


@dataclass(frozen=True)
class GcsOptions:
    """How to reach GCS; ``endpoint_url`` None means Google's own endpoint."""

    endpoint_url: str | None = None
    anonymous: bool = False
    project: str | None = None
    conditional_put: bool = True

    @classmethod
    def from_env(cls, settings: Any = None) -> GcsOptions:
        """``EVALSTREAM_GCS_*`` settings (when given) over ``STORAGE_EMULATOR_HOST`` (what
        Google's own libraries read: an emulator, reached without credentials)."""
        endpoint = getattr(settings, "gcs_endpoint_url", None) if settings is not None else None
        endpoint = endpoint or os.environ.get("STORAGE_EMULATOR_HOST") or None
        if endpoint and "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        anonymous = getattr(settings, "gcs_anonymous", None) if settings is not None else None
        return cls(
            endpoint_url=endpoint.rstrip("/") if endpoint else None,
            anonymous=bool(endpoint) if anonymous is None else anonymous,
            project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None,
            conditional_put=getattr(settings, "gcs_conditional_put", True),
        )


def gcs_filesystem(options: GcsOptions) -> pafs.GcsFileSystem:
    kwargs: dict[str, Any] = {
        "anonymous": options.anonymous,
        "retry_time_limit": timedelta(seconds=30),
    }
    if options.endpoint_url:
        endpoint = parse_endpoint(options.endpoint_url, "GCS")
        kwargs["endpoint_override"] = endpoint.netloc
        kwargs["scheme"] = endpoint.scheme
    if options.project:
        kwargs["project_id"] = options.project
    try:
        return pafs.GcsFileSystem(**kwargs)
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot configure GCS: {exc}") from None


@functools.lru_cache(maxsize=4)
def gcs_client(options: GcsOptions):
    """A google-cloud-storage client for the same endpoint and credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    kwargs: dict[str, Any] = {"project": options.project or ("evalstream" if options.anonymous
                                                             else None)}  # fmt: skip
    if options.anonymous:
        kwargs["credentials"] = AnonymousCredentials()
    if options.endpoint_url:
        kwargs["client_options"] = {"api_endpoint": options.endpoint_url}
    return storage.Client(**kwargs)


def put_if_absent(path: str, data: bytes, options: GcsOptions) -> bool:
    """Upload ``bucket/key`` unless an object of that name exists (``False`` then)."""
    from google.api_core import exceptions as api

    bucket, _, key = path.partition("/")
    blob = gcs_client(options).bucket(bucket).blob(key)
    try:
        blob.upload_from_string(data, if_generation_match=0, timeout=60)
    except api.PreconditionFailed:
        return False
    except api.GoogleAPICallError as exc:
        raise StorageError(f"cannot write gs://{path}: {exc.message or exc}") from None
    except Exception as exc:  # transport errors (requests), auth errors (google.auth)
        raise StorageError(f"cannot write gs://{path}: {str(exc).splitlines()[0]}") from None
    return True
