"""How to reach Azure Blob Storage / ADLS Gen2 (or Azurite, the local emulator):
:class:`AzureOptions` from ``EVALSTREAM_AZURE_*`` over the standard variables, pyarrow's
filesystem built from them, and the write-once upload pyarrow cannot make.

Settings, first found wins: ``EVALSTREAM_AZURE_ACCOUNT_NAME`` / ``_ACCOUNT_KEY`` /
``_BLOB_ENDPOINT``; the account named in the URI (``abfs://container@ACCOUNT.dfs...``);
``AZURE_STORAGE_ACCOUNT_NAME`` (or the CLI's ``AZURE_STORAGE_ACCOUNT``),
``AZURE_STORAGE_ACCOUNT_KEY`` (or ``AZURE_STORAGE_KEY``), ``AZURE_STORAGE_SAS_TOKEN``; then
the parts of ``AZURE_STORAGE_CONNECTION_STRING`` (``AccountName``, ``AccountKey``,
``BlobEndpoint``, ``SharedAccessSignature``). Without a key or SAS token, Azure's default
credential chain is used.

Reads, listings and deletes go through ``pyarrow.fs.AzureFileSystem``. An object written
once (:func:`put_if_absent`) is uploaded by azure-storage-blob with ``overwrite=False``,
which sends ``If-None-Match: *``: the service creates the blob only if none of that name
exists, atomically, and answers 409 ``BlobAlreadyExists`` otherwise.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from pipeline.exceptions import StorageError
from pipeline.sinks.endpoint import parse_endpoint


@dataclass(frozen=True)
class AzureOptions:
    """How to reach one storage account; ``blob_endpoint`` None means Azure's own."""

    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    blob_endpoint: str | None = None  # scheme://host[:port], the account not in it
    conditional_put: bool = True

    @classmethod
    def from_env(cls, settings: Any = None, uri_account: str | None = None) -> AzureOptions:
        parts = _connection_string(os.environ.get("AZURE_STORAGE_CONNECTION_STRING", ""))

        def pick(name: str, *env: str, part: str = "") -> str | None:
            value = getattr(settings, name, None) if settings is not None else None
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            for var in env:
                value = value or os.environ.get(var) or None
            return value or parts.get(part) or None

        account = getattr(settings, "azure_account_name", None) if settings else None
        account = (
            account
            or uri_account
            or pick("", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT", part="AccountName")
        )
        endpoint = pick("azure_blob_endpoint", part="BlobEndpoint")
        return cls(
            account_name=account,
            account_key=pick(
                "azure_account_key",
                "AZURE_STORAGE_ACCOUNT_KEY",
                "AZURE_STORAGE_KEY",
                part="AccountKey",
            ),
            sas_token=pick("", "AZURE_STORAGE_SAS_TOKEN", part="SharedAccessSignature"),
            blob_endpoint=_authority_url(endpoint, account) if endpoint else None,
            conditional_put=getattr(settings, "azure_conditional_put", True),
        )

    @property
    def account_url(self) -> str:
        """The account's blob service URL, as azure-storage-blob takes it."""
        if self.blob_endpoint:  # an emulator or custom endpoint: the account is in the path
            return f"{self.blob_endpoint}/{self.account_name}"
        return f"https://{self.account_name}.blob.core.windows.net"

    def storage_options(self) -> dict[str, str]:
        """These settings as object_store / delta-rs keys (Delta tables on abfs://)."""
        options = {
            "account_name": self.account_name,
            "account_key": self.account_key,
            "sas_token": None if self.account_key else self.sas_token,
        }
        if self.blob_endpoint:
            options["azure_endpoint"] = self.account_url
            if self.blob_endpoint.startswith("http://"):
                options["allow_http"] = "true"
        return {key: value for key, value in options.items() if value}


def _connection_string(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(";") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def _authority_url(endpoint: str, account: str | None) -> str:
    """``http://127.0.0.1:10000/devstoreaccount1`` (Azurite's form) -> ``http://127.0.0.1:10000``."""
    parts = parse_endpoint(endpoint, "Azure blob")
    path = parts.path.strip("/")
    if path and path != account:
        raise StorageError(
            f"Azure blob endpoint {endpoint!r}: a path other than the account name is not supported"
        )
    return f"{parts.scheme}://{parts.netloc}"


def azure_filesystem(options: AzureOptions) -> pafs.AzureFileSystem:
    if not options.account_name:
        raise StorageError(
            "abfs:// needs a storage account: write abfs://container@ACCOUNT.dfs.core.windows.net/…"
            " or set AZURE_STORAGE_ACCOUNT_NAME (or EVALSTREAM_AZURE_ACCOUNT_NAME)"
        )
    kwargs: dict[str, Any] = {"account_name": options.account_name}
    if options.account_key:
        kwargs["account_key"] = options.account_key
    elif options.sas_token:
        kwargs["sas_token"] = options.sas_token
    if options.blob_endpoint:
        endpoint = urlsplit(options.blob_endpoint)
        kwargs.update(
            blob_storage_authority=endpoint.netloc, blob_storage_scheme=endpoint.scheme,
            dfs_storage_authority=endpoint.netloc, dfs_storage_scheme=endpoint.scheme,
        )  # fmt: skip
    try:
        return pafs.AzureFileSystem(**kwargs)
    except (OSError, ValueError, TypeError) as exc:
        raise StorageError(f"cannot configure Azure storage: {exc}") from None


@functools.lru_cache(maxsize=4)
def blob_service(options: AzureOptions):
    """An azure-storage-blob client for the same account, endpoint and credentials."""
    from azure.storage.blob import BlobServiceClient

    credential: Any = None
    if options.account_key:
        credential = {"account_name": options.account_name, "account_key": options.account_key}
    elif options.sas_token:
        credential = options.sas_token
    else:
        try:  # only without key or SAS token
            from azure.identity import DefaultAzureCredential
        except ImportError:
            raise StorageError(
                "abfs:// without AZURE_STORAGE_ACCOUNT_KEY or a SAS token needs azure-identity"
                " (pip install azure-identity)"
            ) from None
        credential = DefaultAzureCredential()
    return BlobServiceClient(account_url=options.account_url, credential=credential)


def put_if_absent(path: str, data: bytes, options: AzureOptions) -> bool:
    """Upload ``container/key`` unless a blob of that name exists (``False`` then)."""
    from azure.core.exceptions import AzureError, ResourceExistsError

    container, _, key = path.partition("/")
    blob = blob_service(options).get_blob_client(container, key)
    try:
        blob.upload_blob(data, overwrite=False, timeout=60)
    except ResourceExistsError:
        return False
    except AzureError as exc:
        raise StorageError(f"cannot write abfs://{path}: {str(exc).splitlines()[0]}") from None
    return True
