"""Dataset roots as URIs: parsing, and the Parquet sink on a real S3-compatible server
(S3Proxy, started by the ``s3_server`` fixture): writes, crash clean-up, zombie fencing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest
from test_parquet_sink import add, record

from pipeline.sinks.dataset import SPANS, TRACES, data_files, dataset_roots
from pipeline.sinks.objects import read_table, write_bytes
from pipeline.sinks.parquet import ParquetSink, remove_uncommitted, remove_uncommitted_partitions
from pipeline.sinks.storage import Location, S3Options, StorageError, locate


def test_local_paths_and_file_uris_are_local(tmp_path):
    assert locate(tmp_path / "x") == tmp_path / "x"
    assert locate(f"file://{tmp_path}/x").path == str(tmp_path / "x")
    assert isinstance(locate("rel/dir").fs, pafs.LocalFileSystem)


@pytest.mark.parametrize(
    ("root", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3:/bucket/x", "missing a slash"),
        ("s4://bucket/x", "unsupported scheme 's4'"),
        ("http://host/x", "unsupported scheme 'http'"),
    ],
)
def test_a_bad_uri_is_one_clear_error(root, message):
    with pytest.raises(StorageError, match=message) as caught:
        locate(root)
    assert "\n" not in str(caught.value)


def test_s3_uri_settings_come_from_evalstream_over_aws_variables(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    root = locate("s3://bucket/team/parquet")
    assert (root.scheme, root.path, root.bucket) == ("s3", "bucket/team/parquet", "bucket")
    assert root.storage_options() == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "from-env",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "AWS_ALLOW_HTTP": "true",
    }
    from pipeline.settings import load_settings

    settings = load_settings(s3_access_key_id="override", s3_endpoint_url="https://s3.example")
    assert S3Options.from_env(settings).access_key_id == "override"
    assert locate("s3://bucket/x", settings).storage_options()["AWS_ENDPOINT_URL"] == (
        "https://s3.example"
    )
    roots = dataset_roots("s3://bucket/team/parquet")
    assert roots[TRACES].uri == "s3://bucket/team/traces"
    assert roots[SPANS].uri == "s3://bucket/team/spans"
    with pytest.raises(StorageError, match="no parent inside its bucket"):
        dataset_roots("s3://bucket")


def test_gs_and_abfs_uris_resolve_through_pyarrow_without_a_request():
    root = locate("gs://bucket/evalstream/parquet")
    assert root.scheme == "gs" and root.path == "bucket/evalstream/parquet"
    assert isinstance(root.fs, pafs.GcsFileSystem)
    assert root.parent.uri == "gs://bucket/evalstream"
    azure = locate("abfs://container@account.dfs.core.windows.net/evalstream/parquet")
    assert azure.scheme == "abfs" and isinstance(azure.fs, pafs.AzureFileSystem)
    assert azure.path == "container/evalstream/parquet"
    assert azure.options.account_name == "account"


def test_gcs_and_azure_settings_come_from_the_standard_variables(monkeypatch):
    from pipeline.settings import load_settings
    from pipeline.sinks.azure import AzureOptions
    from pipeline.sinks.gcs import GcsOptions

    for name in (
        "STORAGE_EMULATOR_HOST",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    assert GcsOptions.from_env() == GcsOptions()  # Google's endpoint, default credentials
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    assert GcsOptions.from_env() == GcsOptions("http://127.0.0.1:4443", anonymous=True)
    settings = load_settings(gcs_endpoint_url="https://gcs.example", gcs_anonymous=False)
    assert GcsOptions.from_env(settings) == GcsOptions("https://gcs.example", anonymous=False)

    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:10000/dev;",
    )
    options = AzureOptions.from_env()
    assert (options.account_name, options.account_key) == ("dev", "a2V5")
    assert options.blob_endpoint == "http://127.0.0.1:10000"
    assert options.account_url == "http://127.0.0.1:10000/dev"
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "b3ZlcnJpZGU=")
    assert AzureOptions.from_env().account_key == "b3ZlcnJpZGU="
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    overridden = AzureOptions.from_env(load_settings(azure_account_name="mine"), "in-uri")
    assert overridden.account_name == "mine"
    assert AzureOptions.from_env(None, "in-uri").account_name == "in-uri"
    with pytest.raises(StorageError, match="needs a storage account"):
        locate("abfs://container/x")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    with pytest.raises(StorageError, match="a path other than the account"):
        locate("abfs://container/x", load_settings(azure_blob_endpoint="http://h:1/other"))


def test_an_unreachable_endpoint_or_missing_bucket_is_one_line(monkeypatch, s3_server):
    from pipeline.kafka.broker import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    with pytest.raises(StorageError, match="cannot reach s3://bucket") as caught:
        locate("s3://bucket/x").check()
    assert "\n" not in str(caught.value)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        locate("s3://no-such-bucket/x").check()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageError, match="access denied to s3://evalstream: check the cred"):
        locate(f"s3://{s3_server.bucket}/x").check()


def _keys(root: str) -> list[str]:
    return sorted(locate(root).relative(d.path) for d in data_files(root))


def test_sink_writes_objects_readable_with_pandas_and_cleans_up_uncommitted(s3_root):
    sink = ParquetSink(s3_root, store_traces=True)
    add(sink, record(10, 13), record(11, 14), record(5, 13, partition=1))
    written = sink.flush()
    assert all(isinstance(p, Location) and p.scheme == "s3" for p in written)
    assert _keys(s3_root) == [
        "date=2026-11-25/hour=13/scored-p0-o000000000010-000000000011.parquet",
        "date=2026-11-25/hour=13/scored-p1-o000000000005-000000000005.parquet",
        "date=2026-11-25/hour=14/scored-p0-o000000000010-000000000011.parquet",
    ]
    root = locate(s3_root)
    frame = pd.read_parquet(root.path, filesystem=root.fs)
    assert sorted(frame["trace_id"]) == ["t10", "t10", "t11", "t11", "t5", "t5"]
    traces_root = dataset_roots(s3_root)[TRACES]
    assert len(data_files(traces_root)) == 3  # the traces dataset beside it, same names

    add(sink, record(12, 14))
    sink.flush()  # offsets 12.. of partition 0: never committed (the worker crashed)
    removed = remove_uncommitted_partitions(s3_root, "scored", {0: 12, 1: 6})  # p1: all kept
    assert sorted(root.relative(p) for p in removed if p.uri.startswith(s3_root)) == [
        "date=2026-11-25/hour=14/scored-p0-o000000000012-000000000012.parquet"
    ]
    assert len(removed) == 2  # the results object and its traces twin (no spans here)
    assert len(_keys(s3_root)) == 3 and len(data_files(traces_root)) == 3
    assert len(remove_uncommitted(s3_root, "scored", 1, committed=5)) == 2  # results + traces


def test_a_zombie_cannot_overwrite_a_newer_owners_object(s3_root):
    owner = ParquetSink(s3_root)
    add(owner, record(0, 13, evaluators=("owner",)), record(1, 13, evaluators=("owner",)))
    (target,) = owner.flush()
    zombie = ParquetSink(s3_root)  # same partition, same offsets, late and different rows
    add(zombie, record(0, 13, evaluators=("zombie",)), record(1, 13, evaluators=("zombie",)))
    assert zombie.flush() == [target]
    assert zombie.files_kept == 1 and owner.files_kept == 0
    assert set(read_table(target).column("evaluator").to_pylist()) == {"owner"}
    assert write_bytes(target, b"junk", replace=False) is False  # If-None-Match: * -> 412
    assert write_bytes(target.parent / "new.bin", b"x", replace=False) is True


def test_conditional_put_off_falls_back_to_a_check_before_the_put(s3_root, s3_server):
    env = s3_server.env()
    options = S3Options(
        env["AWS_ENDPOINT_URL"],
        "us-east-1",
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        conditional_put=False,
    )
    root = locate(s3_root)
    plain = Location(root.scheme, root.path, root.fs, options)
    assert write_bytes(plain / "a.bin", b"1", replace=False) is True
    assert write_bytes(plain / "a.bin", b"2", replace=False) is False
    assert write_bytes(plain / "a.bin", b"3", replace=True) is True


def test_local_sink_also_never_replaces_a_file_it_did_not_write(tmp_path):
    owner = ParquetSink(tmp_path)
    add(owner, record(0, 13, evaluators=("owner",)))
    (target,) = owner.flush()
    zombie = ParquetSink(tmp_path)
    add(zombie, record(0, 13, evaluators=("zombie",)))
    zombie.flush()
    assert set(read_table(target).column("evaluator").to_pylist()) == {"owner"}
    assert not list(Path(tmp_path).rglob("*.tmp"))


def test_a_local_root_is_checked_without_creating_anything(tmp_path):
    locate(tmp_path / "new" / "parquet").check(writable=True)  # can be made: fine
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="is not a directory"):
        locate(tmp_path / "file").check()
    with pytest.raises(StorageError, match="is not a writable directory"):
        locate(tmp_path / "file" / "parquet").check(writable=True)


@pytest.mark.parametrize(
    ("uri", "setting", "store"),
    [
        ("s3://bucket/x", {"s3_endpoint_url": "127.0.0.1:9000"}, "S3"),
        ("gs://bucket/x", {"gcs_endpoint_url": "ftp://127.0.0.1:4443"}, "GCS"),
        ("abfs://container/x", {"azure_blob_endpoint": "127.0.0.1:10000"}, "Azure blob"),
    ],
)
def test_an_endpoint_that_is_not_a_url_is_one_line_per_store(uri, setting, store, monkeypatch):
    from pipeline.settings import load_settings

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    with pytest.raises(StorageError) as raised:
        locate(uri, load_settings(**setting))
    value = next(iter(setting.values()))
    assert str(raised.value) == (
        f"{store} endpoint {value!r} is not a URL: write http(s)://host:port"
    )
