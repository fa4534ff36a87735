"""Shared fixtures. Tests that use ``kafka_bootstrap`` run against a real Kafka broker:
the one in env ``EVALSTREAM_BOOTSTRAP_SERVERS`` if set, else a local one started per session.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaAdminClient

from pipeline.kafka.broker import free_port, start_broker, stop_broker
from pipeline.objectstore import StorageHandle, start_storage, stop_storage
from pipeline.objectstore.emulators import Emulator, EmulatorError, start_azurite, start_gcs
from pipeline.objectstore.emulators import stop as stop_emulator


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a running broker (started here if env does not name one)."""
    external = os.environ.get("EVALSTREAM_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    handle = start_broker(port=free_port(), data_dir=tmp_path_factory.mktemp("kafka"))
    try:
        yield handle.bootstrap
    finally:
        stop_broker(handle)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageHandle]:
    """A real S3-compatible server (S3Proxy, jars from Maven Central) on loopback, started
    once per session like the broker: what ``evalstream storage start`` runs."""
    handle = start_storage(port=free_port(), data_dir=tmp_path_factory.mktemp("s3"))
    try:
        yield handle
    finally:
        stop_storage(handle)


def _emulator(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A local GCS (fake-gcs-server) or Azure Blob (Azurite) server; built on first use from
    the Go module proxy / the npm registry. Best effort: skips with one reason when the build
    or the start fails (no `go`, no `node`, no registry)."""
    start = start_gcs if kind == "gcs" else start_azurite
    try:
        handle = start(tmp_path_factory.mktemp(kind))
    except EmulatorError as exc:
        pytest.skip(f"no local {kind} server: {str(exc).splitlines()[0]}")
    try:
        yield handle
    finally:
        stop_emulator(handle)


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from _emulator("gcs", tmp_path_factory)


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from _emulator("azure", tmp_path_factory)


@pytest.fixture
def s3_root(s3_server: StorageHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<bucket>/<fresh prefix>/parquet``, with the standard AWS variables of this
    process pointing at the server (child processes get them from ``s3_server.env()``)."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}/parquet"


@pytest.fixture(params=["s3", "gcs", "azure"])
def store_root(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh dataset root in each local object store in turn: ``s3://`` (S3Proxy), ``gs://``
    (fake-gcs-server), ``abfs://`` (Azurite), with this process's standard variables pointing
    at the server."""
    if request.param == "s3":
        return request.getfixturevalue("s3_root")
    server: Emulator = request.getfixturevalue(f"{request.param}_server")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server.uri(f"{uuid.uuid4().hex[:12]}/parquet")


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: ``new_topic(partitions=1) -> name`` of a fresh topic whose leaders are elected."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    created: list[str] = []

    def make(partitions: int = 1) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}})
        admin.wait_for_topics([name], timeout_ms=15000)
        created.append(name)
        return name

    try:
        yield make
    finally:
        # Best effort: names are unique, a leftover topic harms no other test.
        with contextlib.suppress(Exception):
            if created:
                admin.delete_topics(created)
        admin.close()
