"""The broker's jars: fetched from Maven Central once, through the project's pom, and cached.

No Kafka install and no Docker: ``mvn dependency:copy-dependencies`` writes Kafka's runtime
jars into a temporary dir renamed into the cache when complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.kafka.broker import config as cfg
from pipeline.kafka.broker.config import DEFAULT_KAFKA_VERSION
from pipeline.kafka.broker.exceptions import BrokerError
from pipeline.local_process import fetch_maven_dependencies


def require_tool(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"`{tool}` is not on PATH; install it (e.g. apt install {why}) and retry")
    return path


def tail_lines(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_jars(version: str = DEFAULT_KAFKA_VERSION, cache_dir: Path | None = None) -> Path:
    """Return the dir with the broker's jars, downloading them with Maven on first use.

    The dir is ``<cache>/kafka-<version>`` where cache is *cache_dir*, else env
    ``EVALSTREAM_KAFKA_CACHE_DIR``, else ``~/.cache/evalstream``. Maven writes into a temp dir
    that is renamed when complete, so an interrupted download is never mistaken for a cache.
    """
    root = cfg.kafka_cache_dir(cache_dir)
    target = root / f"kafka-{version}"
    if cfg.has_kafka_jar(target):
        return target
    require_tool("java", "openjdk-17-jre-headless")
    mvn = require_tool("mvn", "maven")
    if not cfg.POM_PATH.is_file():
        raise BrokerError(f"missing {cfg.POM_PATH}; the broker jars are fetched through it")
    return fetch_maven_dependencies(
        mvn, cfg.POM_PATH, target, {"kafka.version": version}, cfg.has_kafka_jar, BrokerError,
        f"Kafka {version} jars",
    )  # fmt: skip
