"""Pure helpers of the local S3 server: paths, the handle, config texts and state files.

Kept apart from :mod:`pipeline.objectstore.server` (which owns processes and errors), as the
Kafka broker's ``config`` is, so the text the server starts with is readable on its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.kafka.broker.config import evalstream_cache_dir

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

    def uri(self, prefix: str) -> str:
        """``s3://<bucket>/<prefix>``: a dataset root in this server's bucket."""
        return f"s3://{self.bucket}/{prefix.strip('/')}"


def default_data_dir() -> Path:
    return evalstream_cache_dir() / "storage"


def cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else evalstream_cache_dir()


def has_jar(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("s3proxy-*.jar"))


def properties(port: int, access_key: str, secret_key: str, blobs: Path) -> str:
    return (
        f"s3proxy.endpoint=http://127.0.0.1:{port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={access_key}\n"
        f"s3proxy.credential={secret_key}\n"
        "jclouds.provider=filesystem-nio2\n"
        f"jclouds.filesystem.basedir={blobs}\n"
    )


def logback(log_file: Path) -> str:
    return (
        "<configuration><appender name='FILE' class='ch.qos.logback.core.FileAppender'>"
        f"<file>{log_file}</file><encoder><pattern>%d{{ISO8601}} %-5level %logger{{36}} -"
        " %msg%n</pattern></encoder></appender><root level='WARN'>"
        "<appender-ref ref='FILE'/></root></configuration>\n"
    )


def read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def handle_of(data_dir: Path, state: dict, pid: int) -> StorageHandle:
    return StorageHandle(
        f"http://127.0.0.1:{state['port']}",
        state["port"],
        state["bucket"],
        state["access_key"],
        state["secret_key"],
        data_dir,
        pid,
    )
