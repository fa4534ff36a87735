"""A local S3-compatible object store (S3Proxy from Maven Central) for development and tests;
the datasets' own access to object stores is :mod:`pipeline.sinks.storage`."""

from pipeline.objectstore.config import DEFAULT_BUCKET
from pipeline.objectstore.server import (
    StorageHandle,
    StorageServerError,
    default_data_dir,
    ensure_s3proxy_jars,
    start_storage,
    stop_storage,
    storage_status,
)

__all__ = [
    "DEFAULT_BUCKET",
    "StorageHandle",
    "StorageServerError",
    "default_data_dir",
    "ensure_s3proxy_jars",
    "start_storage",
    "stop_storage",
    "storage_status",
]
