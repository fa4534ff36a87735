"""Writing whole files to a :class:`~pipeline.sinks.storage.Location`, each visible at once
and, unless asked to replace, written once: an existing file is never replaced.

* Local disk: the bytes go to a hidden ``.<name>.<unique>.tmp`` beside the target, are
  fsynced, then *linked* to the target name (``replace=False``: fails if the name exists) or
  renamed over it (``replace=True``), and the directory is fsynced. No rename is needed on
  an object store.
* S3: one PUT, which S3 makes visible whole. Without ``replace`` the PUT carries
  ``If-None-Match: *`` (conditional write; AWS S3, MinIO and S3Proxy honour it): the store
  refuses to replace an object that exists, atomically on AWS S3. That is what keeps a
  zombie worker from overwriting a newer owner's object (docs/guarantees.md). pyarrow cannot
  send that header, so these PUTs go through boto3. With ``EVALSTREAM_S3_CONDITIONAL_PUT``
  off (a store that rejects the header), existence is checked before the PUT: a race can
  then still replace an object.
* gs://: without ``replace``, one upload with ``ifGenerationMatch=0`` through
  google-cloud-storage (:mod:`pipeline.sinks.gcs`): GCS creates the object only if no live
  one has its name, atomically. abfs://: one upload with ``If-None-Match: *`` through
  azure-storage-blob (:mod:`pipeline.sinks.azure`), equally atomic on Azure. pyarrow sends
  neither condition. With ``EVALSTREAM_GCS_CONDITIONAL_PUT`` / ``_AZURE_CONDITIONAL_PUT``
  off, existence is checked before a plain pyarrow write, as on S3.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Callable
from functools import partial
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.sinks import azure, gcs
from pipeline.sinks.azure import AzureOptions
from pipeline.sinks.gcs import GcsOptions
from pipeline.sinks.storage import Location, S3Options, StorageError, _reason

COMPRESSION = "zstd"


def parquet_bytes(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION)
    return sink.getvalue()


def write_parquet(
    target: Location, table: pa.Table, *, replace: bool, mtime: float | None = None
) -> bool:
    """Write ``table`` as ``target``; ``False`` (nothing changed) when ``replace`` is off and
    the target exists. ``mtime`` (local disk only) dates the file, e.g. a merge of old data.
    Raises ``StorageError``."""
    if target.is_local:  # straight into the temporary file: no copy in memory
        return _write_local(target, partial(_parquet_to, table), replace, mtime)
    return write_bytes(target, parquet_bytes(table), replace=replace, mtime=mtime)


def _parquet_to(table: pa.Table, handle: BinaryIO) -> None:
    pq.write_table(table, handle, compression=COMPRESSION)


def write_bytes(
    target: Location, data: bytes | pa.Buffer, *, replace: bool, mtime: float | None = None
) -> bool:
    if target.is_local:
        return _write_local(target, lambda handle: handle.write(memoryview(data)), replace, mtime)
    options = target.options
    if not replace and getattr(options, "conditional_put", target.scheme == "s3"):
        if target.scheme == "s3":
            return _put_if_absent(target, data)
        if isinstance(options, GcsOptions):
            return gcs.put_if_absent(target.path, memoryview(data).tobytes(), options)
        if isinstance(options, AzureOptions):
            return azure.put_if_absent(target.path, memoryview(data).tobytes(), options)
    if not replace and target.exists():
        return False
    try:
        with target.fs.open_output_stream(target.path) as out:
            out.write(data)
    except OSError as exc:
        raise StorageError(f"cannot write {target}: {_reason(exc)}") from None
    return True


def _write_local(
    target: Location, write: Callable[[BinaryIO], object], replace: bool, mtime: float | None
) -> bool:
    directory = os.path.dirname(target.path)
    tmp = os.path.join(directory, f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        if replace:
            os.replace(tmp, target.path)
        else:
            try:
                os.link(tmp, target.path)  # unlike rename, never replaces an existing file
            except FileExistsError:
                return False
        fsync_dir(directory)
    except OSError as exc:
        raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return True


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=8)
def s3_client(options: S3Options):
    """A boto3 S3 client with the same endpoint, region and keys as the pyarrow filesystem."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=options.endpoint_url,
        region_name=options.region or "us-east-1",
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        aws_session_token=options.session_token,
        config=Config(
            connect_timeout=options.connect_timeout,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"} if options.endpoint_url else None,
        ),
    )


def _put_if_absent(target: Location, data: bytes | pa.Buffer) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = target.path.partition("/")
    client = s3_client(target.s3 or S3Options())
    try:
        client.put_object(Bucket=bucket, Key=key, Body=memoryview(data).tobytes(), IfNoneMatch="*")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if (
            code == "PreconditionFailed"
            or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412
        ):
            return False
        raise StorageError(f"cannot write {target}: {code or exc}") from None
    except BotoCoreError as exc:
        raise StorageError(f"cannot write {target}: {exc}") from None
    return True


def read_table(location: Location, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(location.path, filesystem=location.fs, columns=columns)


def num_rows(location: Location) -> int:
    with location.fs.open_input_file(location.path) as handle:
        return pq.ParquetFile(handle).metadata.num_rows
