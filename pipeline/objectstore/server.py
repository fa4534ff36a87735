"""A local S3-compatible server, S3Proxy from Maven Central, run like the local Kafka broker.

Tests and ``evalstream storage`` need a real object store without Docker or a cloud account:
S3Proxy's jars (and their dependencies) come from Maven Central once
(:func:`ensure_s3proxy_jars`, through ``deploy/local-s3/pom.xml``), and the server runs as a
detached JVM on loopback whose state lives in one data dir: its config, its log, its blobs
(jclouds' ``filesystem-nio2`` store: one directory per bucket), ``storage.pid`` and
``storage.json`` (port, bucket, keys), so ``evalstream storage stop`` from another process
finds it, and a restart on the same dir keeps the objects and the keys.

It speaks the S3 API with SigV4 authentication and honours ``If-None-Match: *`` on PUT (the
conditional write the Parquet sink relies on): a PUT to an existing key is refused with 412.
Whether its filesystem store makes that check atomically with the write, as AWS S3 does, is
not verified here (docs/guarantees.md).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pipeline.exceptions import PipelineError
from pipeline.kafka.broker.config import free_port, port_is_free
from pipeline.local_process import (
    discard,
    fetch_maven_dependencies,
    port_open,
    server_alive,
    spawn,
    stop_group,
)
from pipeline.objectstore import config as cfg
from pipeline.objectstore.config import StorageHandle, default_data_dir

__all__ = [
    "StorageHandle",
    "StorageServerError",
    "default_data_dir",
    "ensure_s3proxy_jars",
    "start_storage",
    "stop_storage",
    "storage_status",
]


class StorageServerError(PipelineError):
    """The local S3 server could not be fetched, started, reached or stopped."""


def ensure_s3proxy_jars(
    version: str = cfg.DEFAULT_S3PROXY_VERSION, cache_dir: Path | None = None
) -> Path:
    """The dir with S3Proxy's jars, fetched from Maven Central with ``mvn`` on first use
    (into a temp dir renamed when complete: an interrupted fetch is never a cache)."""
    root = cfg.cache_root(cache_dir)
    target = root / f"s3proxy-{version}"
    if cfg.has_jar(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise StorageServerError("`mvn` and `java` must be on PATH (apt install maven openjdk-17)")
    return fetch_maven_dependencies(
        mvn, cfg.POM_PATH, target, {"s3proxy.version": version}, cfg.has_jar,
        StorageServerError, f"S3Proxy {version}",
    )  # fmt: skip


def _alive(pid: int, data_dir: Path) -> bool:
    """True if *pid* is a live S3Proxy of *data_dir* (not a zombie, not a reused pid)."""
    return server_alive(pid, cfg.MAIN_CLASS, data_dir)


def storage_status(data_dir: Path | None = None) -> StorageHandle | None:
    """The running server of *data_dir*, or ``None`` (judged by the process: instant)."""
    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    state, pid = cfg.read_state(data_dir), cfg.read_pid(data_dir)
    if state is None or pid is None or not _alive(pid, data_dir):
        return None
    return cfg.handle_of(data_dir, state, pid)


def start_storage(
    port: int | None = None,
    data_dir: Path | None = None,
    *,
    bucket: str = cfg.DEFAULT_BUCKET,
    timeout: float = 90,
    heap: str = "256m",
) -> StorageHandle:
    """Start a detached S3Proxy on loopback and return once *bucket* exists in it.

    A data dir used before keeps its objects and keys; with *port* None its previous port is
    reused if free, else a free one is picked.
    """
    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    running = storage_status(data_dir)
    if running is not None:
        raise StorageServerError(
            f"a storage server from {data_dir} is already running (pid {running.pid},"
            f" {running.endpoint}); stop it first"
        )
    previous = cfg.read_state(data_dir) or {}
    if port is not None and not port_is_free(port):
        raise StorageServerError(f"port {port} is already in use; pick another with --port")
    if port is None:
        old = previous.get("port")
        port = old if old and port_is_free(old) else free_port()
    state = {
        "port": port,
        "bucket": bucket,
        "access_key": previous.get("access_key") or f"evalstream-{secrets.token_hex(4)}",
        "secret_key": previous.get("secret_key") or secrets.token_urlsafe(24),
    }
    jars = ensure_s3proxy_jars()
    blobs = data_dir / cfg.BLOBS
    blobs.mkdir(exist_ok=True)
    (data_dir / cfg.PROPERTIES).write_text(
        cfg.properties(port, state["access_key"], state["secret_key"], blobs)
    )
    (data_dir / cfg.LOGBACK).write_text(cfg.logback(data_dir / cfg.LOG_FILE))
    (data_dir / cfg.STATE_FILE).write_text(json.dumps(state))
    os.chmod(data_dir / cfg.STATE_FILE, 0o600)
    command = [
        shutil.which("java") or "java", f"-Xmx{heap}", "-XX:+ExitOnOutOfMemoryError",
        f"-Dlogback.configurationFile={data_dir / cfg.LOGBACK}", "-cp", f"{jars}/*", cfg.MAIN_CLASS,
        "--properties", str(data_dir / cfg.PROPERTIES),
    ]  # fmt: skip
    proc = spawn(command, data_dir / cfg.OUT_FILE, cwd=data_dir)
    try:
        (data_dir / cfg.PID_FILE).write_text(f"{proc.pid}\n")
        handle = cfg.handle_of(data_dir, state, proc.pid)
        _wait_and_create_bucket(handle, proc, timeout)
        return handle
    except BaseException:  # never leave a half-started JVM behind
        discard(proc)
        (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
        raise


def _wait_and_create_bucket(handle: StorageHandle, proc: subprocess.Popen, timeout: float):
    from botocore.exceptions import BotoCoreError, ClientError

    from pipeline.sinks.objects import s3_client
    from pipeline.sinks.storage import S3Options

    client = s3_client(S3Options(handle.endpoint, cfg.REGION, handle.access_key, handle.secret_key))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageServerError(
                f"S3Proxy exited with code {proc.returncode} while starting; see"
                f" {handle.data_dir / cfg.OUT_FILE} and {handle.data_dir / cfg.LOG_FILE}"
            )
        if port_open(handle.port):
            try:
                client.create_bucket(Bucket=handle.bucket)
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    return
                last = code or str(exc)
            except BotoCoreError as exc:
                last = str(exc)
        time.sleep(0.3)
    raise StorageServerError(
        f"S3Proxy did not answer on {handle.endpoint} within {timeout:.0f}s ({last}); see"
        f" {handle.data_dir / cfg.LOG_FILE}"
    )


def stop_storage(data_dir: Path | StorageHandle | None = None, timeout: float = 20) -> bool:
    """Stop the server of *data_dir* (SIGTERM, then SIGKILL); ``False`` if none was running."""
    if isinstance(data_dir, StorageHandle):
        data_dir = data_dir.data_dir
    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    pid = cfg.read_pid(data_dir)
    if pid is None or not _alive(pid, data_dir):
        (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
        return False
    steps = [(signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)]
    if stop_group(pid, lambda: _alive(pid, data_dir), steps):
        (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
        return True
    raise StorageServerError(f"S3Proxy of {data_dir} survived SIGKILL (pid {pid})")
