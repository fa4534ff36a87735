"""A local S3-compatible server, S3Proxy from Maven Central, run like the local Kafka broker.

Tests and ``evalstream storage`` need a real object store without Docker or a cloud account:
S3Proxy's jars (and their dependencies) come from Maven Central once
(:func:`ensure_s3proxy_jars`, through ``deploy/local-s3/pom.xml``), and the server runs as a
detached JVM on loopback whose state lives in one data dir: its config, its log, its blobs
(jclouds' ``filesystem-nio2`` store: one directory per bucket), ``storage.pid`` and
``storage.json`` (port, bucket, keys), so ``evalstream storage stop`` from another process
finds it, and a restart on the same dir keeps the objects and the keys.

It speaks the S3 API with SigV4 authentication and honours ``If-None-Match: *`` on PUT (the
conditional write the Parquet sink relies on); on its filesystem store that check is made
before the write, not atomically with it as on AWS S3 (docs/guarantees.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.exceptions import PipelineError
from pipeline.kafka.broker.config import evalstream_cache_dir, free_port, port_is_free

DEFAULT_S3PROXY_VERSION = "4.1.0"
CACHE_ENV = "EVALSTREAM_S3PROXY_CACHE_DIR"
POM_PATH = Path(__file__).resolve().parents[2] / "deploy" / "local-s3" / "pom.xml"
MAIN_CLASS = "org.gaul.s3proxy.Main"
DEFAULT_BUCKET = "evalstream"
REGION = "us-east-1"

STATE_FILE = "storage.json"
PID_FILE = "storage.pid"
LOG_FILE = "s3proxy.log"
OUT_FILE = "s3proxy.out"
PROPERTIES = "s3proxy.properties"
LOGBACK = "logback.xml"
BLOBS = "blobs"

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class StorageServerError(PipelineError):
    """The local S3 server could not be fetched, started, reached or stopped."""


@dataclass(frozen=True)
class StorageHandle:
    """A running server: what clients need and what ``stop`` needs (``data_dir``)."""

    endpoint: str
    port: int
    bucket: str
    access_key: str
    secret_key: str
    data_dir: Path
    pid: int

    def line(self) -> str:
        """The one line ``evalstream storage start|status`` prints."""
        return (
            f"endpoint={self.endpoint} bucket={self.bucket} access_key={self.access_key}"
            f" secret_key={self.secret_key}"
        )

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point evalstream (and other tools) at it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
        }


def default_data_dir() -> Path:
    return evalstream_cache_dir() / "storage"


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else evalstream_cache_dir()


def _has_jar(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("s3proxy-*.jar"))


def ensure_s3proxy_jars(
    version: str = DEFAULT_S3PROXY_VERSION, cache_dir: Path | None = None
) -> Path:
    """The dir with S3Proxy's jars, fetched from Maven Central with ``mvn`` on first use
    (into a temp dir renamed when complete: an interrupted fetch is never a cache)."""
    root = _cache_root(cache_dir)
    target = root / f"s3proxy-{version}"
    if _has_jar(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise StorageServerError("`mvn` and `java` must be on PATH (apt install maven openjdk-17)")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".s3proxy-{version}-", dir=root))
    try:
        cmd = [
            mvn, "-q", "-B", "-f", str(POM_PATH), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={tmp}", f"-Ds3proxy.version={version}",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not _has_jar(tmp):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise StorageServerError(
                f"mvn could not fetch S3Proxy {version} (exit {proc.returncode}); check access"
                f" to Maven Central:\n{tail}"
            )
        try:
            tmp.rename(target)
        except OSError:
            if not _has_jar(target):  # lost a race with a concurrent fetch?
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _properties(port: int, access_key: str, secret_key: str, blobs: Path) -> str:
    return (
        f"s3proxy.endpoint=http://127.0.0.1:{port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={access_key}\n"
        f"s3proxy.credential={secret_key}\n"
        "jclouds.provider=filesystem-nio2\n"
        f"jclouds.filesystem.basedir={blobs}\n"
    )


def _logback(log_file: Path) -> str:
    return (
        "<configuration><appender name='FILE' class='ch.qos.logback.core.FileAppender'>"
        f"<file>{log_file}</file><encoder><pattern>%d{{ISO8601}} %-5level %logger{{36}} -"
        " %msg%n</pattern></encoder></appender><root level='WARN'>"
        "<appender-ref ref='FILE'/></root></configuration>\n"
    )


def _read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int, data_dir: Path) -> bool:
    """True if *pid* is a live S3Proxy of *data_dir* (not a zombie, not a reused pid)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    proc = Path(f"/proc/{pid}")
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return MAIN_CLASS in cmdline and str(data_dir) in cmdline and state != "Z"


def _handle(data_dir: Path, state: dict, pid: int) -> StorageHandle:
    return StorageHandle(
        f"http://127.0.0.1:{state['port']}",
        state["port"],
        state["bucket"],
        state["access_key"],
        state["secret_key"],
        data_dir,
        pid,
    )


def storage_status(data_dir: Path | None = None) -> StorageHandle | None:
    """The running server of *data_dir*, or ``None`` (judged by the process: instant)."""
    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    state, pid = _read_state(data_dir), _read_pid(data_dir)
    if state is None or pid is None or not _alive(pid, data_dir):
        return None
    return _handle(data_dir, state, pid)


def start_storage(
    port: int | None = None,
    data_dir: Path | None = None,
    *,
    bucket: str = DEFAULT_BUCKET,
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
    previous = _read_state(data_dir) or {}
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
    blobs = data_dir / BLOBS
    blobs.mkdir(exist_ok=True)
    (data_dir / PROPERTIES).write_text(
        _properties(port, state["access_key"], state["secret_key"], blobs)
    )
    (data_dir / LOGBACK).write_text(_logback(data_dir / LOG_FILE))
    (data_dir / STATE_FILE).write_text(json.dumps(state))
    os.chmod(data_dir / STATE_FILE, 0o600)
    command = [
        shutil.which("java") or "java", f"-Xmx{heap}", "-XX:+ExitOnOutOfMemoryError",
        f"-Dlogback.configurationFile={data_dir / LOGBACK}", "-cp", f"{jars}/*", MAIN_CLASS,
        "--properties", str(data_dir / PROPERTIES),
    ]  # fmt: skip
    with open(data_dir / OUT_FILE, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    try:
        (data_dir / PID_FILE).write_text(f"{proc.pid}\n")
        handle = _handle(data_dir, state, proc.pid)
        _wait_and_create_bucket(handle, proc, timeout)
        return handle
    except BaseException:  # never leave a half-started JVM behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _CHILDREN.pop(proc.pid, None)
        (data_dir / PID_FILE).unlink(missing_ok=True)
        raise


def _wait_and_create_bucket(handle: StorageHandle, proc: subprocess.Popen, timeout: float):
    from botocore.exceptions import BotoCoreError, ClientError

    from pipeline.sinks.objects import s3_client
    from pipeline.sinks.storage import S3Options

    client = s3_client(S3Options(handle.endpoint, REGION, handle.access_key, handle.secret_key))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageServerError(
                f"S3Proxy exited with code {proc.returncode} while starting; see"
                f" {handle.data_dir / OUT_FILE} and {handle.data_dir / LOG_FILE}"
            )
        if _port_open(handle.port):
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
        f" {handle.data_dir / LOG_FILE}"
    )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_storage(data_dir: Path | StorageHandle | None = None, timeout: float = 20) -> bool:
    """Stop the server of *data_dir* (SIGTERM, then SIGKILL); ``False`` if none was running."""
    if isinstance(data_dir, StorageHandle):
        data_dir = data_dir.data_dir
    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    pid = _read_pid(data_dir)
    if pid is None or not _alive(pid, data_dir):
        (data_dir / PID_FILE).unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # started with start_new_session: pgid == pid
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid, data_dir):
                child = _CHILDREN.pop(pid, None)
                if child is not None:
                    child.wait()
                (data_dir / PID_FILE).unlink(missing_ok=True)
                return True
            time.sleep(0.1)
    raise StorageServerError(f"S3Proxy of {data_dir} survived SIGKILL (pid {pid})")
