"""Where a dataset lives: a local directory or a prefix in an object store bucket.

A dataset root is a string: a local path (``evalstream-data/parquet``, ``file:///data/x``) or
a URI, ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``abfs://container@account/prefix``.
:func:`locate` turns it into a :class:`Location`, a ``pyarrow.fs.FileSystem`` and a path in
it, which every reader and writer of the datasets uses (``sinks.dataset`` builds the layout on
it). Other libraries get the same store through :meth:`Location.storage_options` (delta-rs /
object_store keys) and :func:`fsspec_filesystem` (DuckDB, anything fsspec-based).

S3 settings come from ``EVALSTREAM_S3_*`` (``pipeline.settings``) over the standard
``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_SESSION_TOKEN`` variables. A malformed root or an unreachable store is one
``StorageError`` line (:meth:`Location.check`), never a local folder named ``s3:``.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from pipeline.exceptions import StorageError
from pipeline.sinks.azure import AzureOptions, azure_filesystem
from pipeline.sinks.gcs import GcsOptions, gcs_filesystem
from pipeline.sinks.s3 import S3Options, s3_filesystem

StoreOptions = S3Options | GcsOptions | AzureOptions

__all__ = ["Location", "S3Options", "StorageError", "fsspec_filesystem", "locate", "mtime_of"]

OBJECT_SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs", "abfs": "abfs", "abfss": "abfs"}
"""URI schemes of object stores, and the name each is known by here."""


@dataclass(frozen=True, eq=False)
class Location:
    """A directory or file in a store; compares (and sorts) by scheme and path, and a local
    one equals the ``Path`` of the same file (for comparisons only: the two hash apart, so
    keep one kind per set or dict).

    ``path`` is the path inside ``fs``: an absolute POSIX path on local disk, ``bucket/key``
    in an object store.
    """

    scheme: str  # "file", "s3", "gs" or "abfs"
    path: str
    fs: pafs.FileSystem = field(compare=False, repr=False)
    options: StoreOptions | None = field(default=None, compare=False, repr=False)

    @property
    def s3(self) -> S3Options | None:
        return self.options if isinstance(self.options, S3Options) else None

    # ------------------------------------------------------------------ names
    def _key(self) -> tuple[str, str]:
        return self.scheme, self.path

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Location):
            return self._key() == other._key()
        if isinstance(other, PurePath):
            return self.is_local and self.path == os.path.abspath(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Location) -> bool:
        return self._key() < other._key()

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def uri(self) -> str:
        """How a person (and DuckDB, pandas with storage options) names it."""
        return self.path if self.is_local else f"{self.scheme}://{self.path}"

    def __str__(self) -> str:
        return self.uri

    def __fspath__(self) -> str:
        if not self.is_local:
            raise TypeError(f"{self.uri} is not a local path")
        return self.path

    def __truediv__(self, name: str) -> Location:
        return Location(self.scheme, posixpath.join(self.path, name), self.fs, self.options)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def parent(self) -> Location:
        parent = posixpath.dirname(self.path.rstrip("/"))
        if not self.is_local and "/" not in self.path.strip("/"):
            raise StorageError(f"{self.uri} has no parent inside its bucket")
        return Location(self.scheme, parent or "/", self.fs, self.options)

    @property
    def bucket(self) -> str | None:
        return None if self.is_local else self.path.split("/", 1)[0]

    def relative(self, other: Location) -> str:
        """``other``'s path below this one ("date=…/hour=…/f.parquet")."""
        return posixpath.relpath(other.path, self.path)

    def is_relative_to(self, other: str | PurePath | Location) -> bool:
        """True when this is ``other`` or below it (same store), like ``Path.is_relative_to``."""
        if isinstance(other, Location):
            if other.scheme != self.scheme:
                return False
            base = other.path
        else:
            base = os.path.abspath(other)
        return PurePosixPath(self.path).is_relative_to(base)

    def relative_to(self, other: str | PurePath | Location) -> PurePosixPath:
        """This path below ``other``, like ``Path.relative_to``."""
        base = other.path if isinstance(other, Location) else os.path.abspath(other)
        return PurePosixPath(self.path).relative_to(base)

    # ------------------------------------------------------------------ queries
    def info(self) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(self.path)
        except OSError as exc:
            raise _access_error(self.uri, exc) from None

    def exists(self) -> bool:
        return self.info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.info().type == pafs.FileType.Directory

    def listing(self) -> list[pafs.FileInfo]:
        """Every entry below this directory (recursive); empty when it does not exist."""
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=True)
        try:
            return self.fs.get_file_info(selector)
        except OSError as exc:
            raise StorageError(f"cannot list {self.uri}: {_reason(exc)}") from None

    def at(self, path: str) -> Location:
        """The location of a path of this store (as a listing gives it)."""
        return Location(self.scheme, path, self.fs, self.options)

    # ------------------------------------------------------------------ changes
    def delete(self) -> bool:
        """Remove this file; ``False`` if it was already gone."""
        try:
            self.fs.delete_file(self.path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if not self.exists():
                return False
            raise StorageError(f"cannot delete {self.uri}: {_reason(exc)}") from None
        return True

    def check(self, *, writable: bool = False) -> None:
        """Raise one ``StorageError`` line unless the store answers and the bucket exists;
        local disk: unless the path is a directory, or (``writable``) can be made one.
        Nothing is created."""
        if self.is_local:
            _check_local(Path(self.path), writable)
            return
        bucket = self.at(self.bucket or "")
        kind = bucket.info().type
        if kind == pafs.FileType.NotFound:
            raise StorageError(f"{self.uri}: bucket {self.bucket!r} does not exist")

    # ------------------------------------------------------------------ other libraries
    def storage_options(self) -> dict[str, str]:
        """The store's settings as object_store / delta-rs keys (``{}`` for local disk, and
        for gs://, left to delta-rs' own defaults)."""
        method = getattr(self.options, "storage_options", None)
        return method() if callable(method) else {}


_DENIED = ("ACCESS_DENIED", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def _access_error(uri: str, exc: BaseException) -> StorageError:
    """One line for a failed request: refused credentials, or a store that does not answer."""
    reason = _reason(exc)
    if any(word in reason for word in _DENIED):
        return StorageError(
            f"access denied to {uri}: check the credentials (AWS_ACCESS_KEY_ID /"
            f" AWS_SECRET_ACCESS_KEY or EVALSTREAM_S3_*): {reason}"
        )
    return StorageError(f"cannot reach {uri}: {reason}")


def _check_local(path: Path, writable: bool) -> None:
    if path.exists() and not path.is_dir():
        raise StorageError(f"{path} is not a directory")
    if not writable:
        return
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise StorageError(f"cannot create or write {path}: {existing} is not a writable directory")


def _reason(exc: BaseException) -> str:
    """The first line of a pyarrow/AWS error, without its request ids."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def locate(root: str | PurePath | Location, settings: Any = None) -> Location:
    """The :class:`Location` of a dataset root string; raises ``StorageError`` on a bad URI.

    ``settings`` (``pipeline.settings.Settings``, optional) supplies ``EVALSTREAM_S3_*``.
    """
    if isinstance(root, Location):
        return root
    text = str(root).strip()
    if not text:
        raise StorageError("empty dataset location")
    scheme = ""
    if "://" in text:
        scheme = urlsplit(text).scheme.lower()
    elif isinstance(root, str) and _looks_like_mangled_uri(text):
        raise StorageError(f"{text!r} looks like a URI missing a slash: write s3://bucket/prefix")
    if scheme in ("", "file"):
        local = text[len("file://") :] if scheme else text
        return Location("file", str(Path(local).expanduser().resolve()), pafs.LocalFileSystem())
    if scheme not in OBJECT_SCHEMES:
        raise StorageError(
            f"unsupported scheme {scheme!r} in {text!r}: use a local path, s3://, gs:// or abfs://"
        )
    scheme = OBJECT_SCHEMES[scheme]
    parts = urlsplit(text)
    if not parts.netloc:
        raise StorageError(f"{text!r} names no bucket: write {scheme}://bucket/prefix")
    bucket, _, account = parts.netloc.partition("@")  # abfs://container@account.dfs.…
    path = posixpath.join(bucket, parts.path.strip("/")).rstrip("/")
    if scheme == "s3":
        options = S3Options.from_env(settings)
        return Location("s3", path, s3_filesystem(options, parts.netloc), options)
    if scheme == "gs":
        gcs = GcsOptions.from_env(settings)
        return Location("gs", path, gcs_filesystem(gcs), gcs)
    azure = AzureOptions.from_env(settings, account.split(".", 1)[0] or None)
    return Location("abfs", path, azure_filesystem(azure), azure)


def _looks_like_mangled_uri(text: str) -> bool:
    """``s3:/bucket/x``: what a Path made of an URI looks like; never a sane local path."""
    head = text.split("/", 1)[0].lower()
    return head.endswith(":") and head[:-1] in OBJECT_SCHEMES


def mtime_of(info: pafs.FileInfo) -> datetime | None:
    """A listing entry's modification time (UTC), ``None`` when the store gives none."""
    if info.mtime_ns is None:
        return None
    return datetime.fromtimestamp(info.mtime_ns / 1e9, UTC)


def fsspec_filesystem(location: Location):  # -> fsspec.AbstractFileSystem (imported lazily)
    """The location's pyarrow filesystem as an fsspec one answering to its URI scheme, e.g.
    for ``duckdb.register_filesystem`` (fsspec: only where pyarrow has no binding)."""
    from fsspec.implementations.arrow import ArrowFSWrapper

    prefix = f"{location.scheme}://"

    def strip(cls, path: str) -> str:
        """``abfs://container/key`` -> ``container/key`` (fsspec's own rule takes an abfs
        container for a host name and drops it)."""
        path = path[len(prefix) :] if path.startswith(prefix) else path
        return path.lstrip("/")

    attributes = {"protocol": (location.scheme,), "_strip_protocol": classmethod(strip)}
    wrapper = type(f"{location.scheme.title()}ArrowFS", (ArrowFSWrapper,), attributes)
    return wrapper(location.fs)
