"""Local GCS and Azure Blob servers for the object-storage tests, fetched and run by the
project itself like the Kafka broker and S3Proxy: fake-gcs-server built from its Go module
(``go install``, Go module proxy) and Azurite installed from the npm registry, each once into
the cache dir (``EVALSTREAM_EMULATOR_CACHE_DIR``, else the evalstream cache), through a temp
dir renamed when complete. Each server runs on loopback in its own process group and keeps
its objects in a data dir; :meth:`Emulator.env` gives the standard variables that point
evalstream (and Google's or Azure's own tools) at it.

Azurite runs with ``--disableTelemetry``: it would otherwise try to send usage data out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.exceptions import PipelineError
from pipeline.kafka.broker.config import evalstream_cache_dir, free_port
from pipeline.local_process import build_once, child_running, port_open, spawn, stop_group

FAKE_GCS_MODULE = "github.com/fsouza/fake-gcs-server"
FAKE_GCS_VERSION = "v1.56.1"
AZURITE_VERSION = "3.35.0"  # the newest one that runs on Node 20 (3.36 wants Node 21+)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (  # Azurite's fixed, published development key: not a secret
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CACHE_ENV = "EVALSTREAM_EMULATOR_CACHE_DIR"


class EmulatorError(PipelineError):
    """A local GCS or Azure server could not be built, started or reached."""


@dataclass(frozen=True)
class Emulator:
    """A running local server: its endpoint, its bucket (container), its process."""

    kind: str  # "gcs" or "azure"
    endpoint: str
    bucket: str
    pid: int
    data_dir: Path

    def env(self) -> dict[str, str]:
        if self.kind == "gcs":
            return {"STORAGE_EMULATOR_HOST": self.endpoint}
        return {
            "AZURE_STORAGE_CONNECTION_STRING": (
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint={self.endpoint}/{AZURITE_ACCOUNT};"
            )
        }

    def uri(self, prefix: str) -> str:
        scheme = "gs" if self.kind == "gcs" else "abfs"
        return f"{scheme}://{self.bucket}/{prefix.strip('/')}"


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else evalstream_cache_dir()


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise EmulatorError(f"`{tool}` must be on PATH to build {what}")
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise EmulatorError(f"could not build {what} (exit {proc.returncode}):\n{tail}")


def ensure_fake_gcs_server(version: str = FAKE_GCS_VERSION, cache_dir: Path | None = None) -> Path:
    """The fake-gcs-server binary, built with ``go install`` on first use."""
    target = _cache_root(cache_dir) / f"fake-gcs-server-{version}"
    binary = "fake-gcs-server"

    def build(tmp: Path) -> None:
        _run(["go", "install", f"{FAKE_GCS_MODULE}@{version}"], f"fake-gcs-server {version}",
             {"GOBIN": str(tmp), "GOFLAGS": "-buildvcs=false"})  # fmt: skip

    ready = lambda d: (d / binary).is_file()  # noqa: E731
    return build_once(target, ready, build, EmulatorError) / binary


def ensure_azurite(version: str = AZURITE_VERSION, cache_dir: Path | None = None) -> Path:
    """Azurite's blob server script, installed with ``npm`` on first use."""
    target = _cache_root(cache_dir) / f"azurite-{version}"
    script = Path("node_modules/azurite/dist/src/blob/main.js")

    def build(tmp: Path) -> None:
        _run(["npm", "install", "--prefix", str(tmp), "--no-audit", "--no-fund", "--omit=dev",
              "--no-save", f"azurite@{version}"], f"Azurite {version}")  # fmt: skip

    ready = lambda d: (d / script).is_file()  # noqa: E731
    return build_once(target, ready, build, EmulatorError) / script


def start_gcs(data_dir: Path, bucket: str = "evalstream", timeout: float = 60) -> Emulator:
    """fake-gcs-server on a free loopback port, with ``bucket`` created."""
    binary = ensure_fake_gcs_server()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    (data_dir / "objects").mkdir(parents=True, exist_ok=True)
    command = [
        str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
        "-backend", "filesystem", "-filesystem-root", str(data_dir / "objects"),
        "-public-host", f"127.0.0.1:{port}", "-external-url", endpoint, "-log-level", "warn",
    ]  # fmt: skip
    proc = spawn(command, data_dir / "fake-gcs-server.log")
    handle = Emulator("gcs", endpoint, bucket, proc.pid, data_dir)

    def create() -> None:
        import httpx

        answer = httpx.post(f"{endpoint}/storage/v1/b", params={"project": "evalstream"},
                            json={"name": bucket}, timeout=5)  # fmt: skip
        if answer.status_code not in (200, 409):
            raise EmulatorError(f"fake-gcs-server refused the bucket: {answer.status_code}")

    return _ready(handle, proc, create, timeout)


def start_azurite(data_dir: Path, container: str = "evalstream", timeout: float = 90) -> Emulator:
    """Azurite's blob service on a free loopback port, with ``container`` created."""
    script = ensure_azurite()
    if shutil.which("node") is None:
        raise EmulatorError("`node` must be on PATH to run Azurite")
    port = free_port()
    (data_dir / "blobs").mkdir(parents=True, exist_ok=True)
    command = [
        shutil.which("node") or "node", str(script), "--blobHost", "127.0.0.1", "--blobPort",
        str(port), "--location", str(data_dir / "blobs"), "--skipApiVersionCheck", "--loose",
        "--disableTelemetry", "--silent",
    ]  # fmt: skip
    proc = spawn(command, data_dir / "azurite.log")
    handle = Emulator("azure", f"http://127.0.0.1:{port}", container, proc.pid, data_dir)

    def create() -> None:
        from azure.core.exceptions import ResourceExistsError

        from pipeline.sinks.azure import AzureOptions, blob_service

        options = AzureOptions(AZURITE_ACCOUNT, AZURITE_KEY, blob_endpoint=handle.endpoint)
        with contextlib.suppress(ResourceExistsError):
            blob_service(options).create_container(container, timeout=5)

    return _ready(handle, proc, create, timeout)


def _ready(handle: Emulator, proc: subprocess.Popen, create: Callable[[], None], timeout: float):
    """``handle`` once ``create`` (its bucket) succeeds; the process killed if it never does."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(handle)
            raise EmulatorError(f"{handle.kind} emulator exited with code {proc.returncode};"
                                f" see {handle.data_dir}")  # fmt: skip
        if not port_open(int(handle.endpoint.rsplit(":", 1)[1])):
            time.sleep(0.2)  # not listening yet (the clients would retry with back-off)
            continue
        try:
            create()
            return handle
        except Exception as exc:  # not listening yet: connection refused, timeouts
            last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        time.sleep(0.3)
    stop(handle)
    raise EmulatorError(f"{handle.kind} emulator did not answer on {handle.endpoint} within"
                        f" {timeout:.0f}s ({last})")  # fmt: skip


def stop(handle: Emulator, timeout: float = 10) -> None:
    """SIGTERM the server's process group, SIGKILL after ``timeout``."""
    steps = [(signal.SIGTERM, timeout), (signal.SIGKILL, timeout)]
    stop_group(handle.pid, lambda: child_running(handle.pid), steps)
