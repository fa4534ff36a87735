"""Pure helpers for the local Kafka broker: paths, ports, cluster ids and config files.

Kept apart from :mod:`pipeline.kafka.broker.local` (which owns processes and errors) so the text the
broker is started with can be read and unit-tested without starting a JVM.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from pathlib import Path

from pipeline.kafka.broker.tls import Listeners

DEFAULT_KAFKA_VERSION = "3.9.1"
#: Environment variable naming the directory that holds the ``kafka-<version>/`` jar dirs.
KAFKA_CACHE_ENV = "EVALSTREAM_KAFKA_CACHE_DIR"
#: The pom whose runtime dependencies are the broker's classpath.
POM_PATH = Path(__file__).resolve().parents[3] / "deploy" / "local-kafka" / "pom.xml"

# Files inside a broker data dir. The log segments live in a subdir so that the broker's
# own bookkeeping files never mix with Kafka's (Kafka refuses unknown dirs in log.dirs).
LOG_SUBDIR = "kafka-logs"
PID_FILE = "broker.pid"
STATE_FILE = "broker.json"
LOG_FILE = "broker.log"
OUT_FILE = "broker.out"
SERVER_PROPERTIES = "server.properties"
LOG4J_PROPERTIES = "log4j.properties"
SCRAM_MECHANISM = "SCRAM-SHA-256"


def evalstream_cache_dir() -> Path:
    """Root of everything evalstream caches locally (``~/.cache/evalstream``)."""
    return Path.home() / ".cache" / "evalstream"


def kafka_cache_dir(cache_dir: Path | None = None) -> Path:
    """Parent dir of the ``kafka-<version>`` jar dirs: argument, then env var, then default."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(KAFKA_CACHE_ENV)
    return Path(env).expanduser() if env else evalstream_cache_dir()


def default_cli_data_dir() -> Path:
    """Data dir the CLI uses when ``--data-dir`` is not given, so start/stop/status agree."""
    return evalstream_cache_dir() / "broker"


def has_kafka_jar(jar_dir: Path) -> bool:
    """True when *jar_dir* holds the Kafka core jar, i.e. a finished download."""
    return jar_dir.is_dir() and any(jar_dir.glob("kafka_2.13-*.jar"))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on *port*.

    SO_REUSEADDR makes sockets left in TIME_WAIT by a previous broker on the same port not
    count as busy; the JVM binds with SO_REUSEADDR too, so it would succeed as well.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(exclude: set[int] | None = None, host: str = "127.0.0.1") -> int:
    """A TCP port the kernel considers free right now (racy by nature, good enough locally)."""
    exclude = exclude or set()
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in exclude:
            return port


def new_cluster_id() -> str:
    """A Kafka cluster id, as ``kafka-storage random-uuid`` makes it, without starting a JVM.

    Kafka's ``Uuid.toString`` is the url-safe base64 of 16 random bytes without padding; its
    ``randomUuid`` rejects ids starting with '-' (they read as a command line flag).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def read_cluster_id(log_dir: Path) -> str | None:
    """The cluster id in *log_dir*/meta.properties, or None if the dir was never formatted."""
    meta = log_dir / "meta.properties"
    if not meta.is_file():
        return None
    for line in meta.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "cluster.id":
            return value.strip()
    return None


def server_properties(
    *,
    port: int,
    controller_port: int,
    log_dir: Path,
    sasl_port: int | None = None,
    scram_users: dict[str, str] | None = None,
    ssl_port: int | None = None,
    sasl_ssl_port: int | None = None,
    tls_keystore: Path | None = None,
) -> str:
    """server.properties of a single node that is broker and KRaft controller at once.

    Optional listeners: SASL_PLAINTEXT on *sasl_port*, SSL on *ssl_port* and SASL_SSL on
    *sasl_ssl_port* (both with the key and certificates of the PEM file *tls_keystore*); the
    SASL ones use SCRAM-SHA-256 with the first of *scram_users*.

    Internal topics get one replica and few partitions: a 2-core laptop then starts the broker
    and creates ``__consumer_offsets`` / ``__transaction_state`` in seconds, not tens of them.
    """
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{controller_port}"]
    advertised = [f"PLAINTEXT://127.0.0.1:{port}"]
    protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(log_dir),
        "num.partitions": 1,
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 4,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 4,
        "group.initial.rebalance.delay.ms": 0,
        # After a SIGKILL the restarted broker can only register once the controller has
        # expired the old session: 9 s by default, 3 s here (4 heartbeats per session).
        "broker.heartbeat.interval.ms": 750,
        "broker.session.timeout.ms": 3000,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "delete.topic.enable": "true",
    }
    extra = Listeners()
    if (sasl_port is not None or sasl_ssl_port is not None) and not scram_users:
        raise ValueError("a SASL listener needs at least one SCRAM user")
    if (ssl_port is not None or sasl_ssl_port is not None) and tls_keystore is None:
        raise ValueError("a TLS listener needs a PEM keystore (key + certificate chain)")
    user, password = next(iter((scram_users or {"": ""}).items()))
    if sasl_port is not None:
        extra.add("SASL_PLAINTEXT", sasl_port)
        extra.scram("sasl_plaintext", SCRAM_MECHANISM, user, password)
    if ssl_port is not None:
        extra.add("SSL", ssl_port)
    if sasl_ssl_port is not None:
        extra.add("SASL_SSL", sasl_ssl_port)
        extra.scram("sasl_ssl", SCRAM_MECHANISM, user, password)
    if tls_keystore is not None:
        extra.tls(tls_keystore)
    listeners += extra.listeners
    advertised += extra.advertised
    protocols += extra.protocols
    props.update(extra.props)
    props["listeners"] = ",".join(listeners)
    props["advertised.listeners"] = ",".join(advertised)
    props["listener.security.protocol.map"] = ",".join(protocols)
    return "".join(f"{key}={value}\n" for key, value in props.items())


def log4j_properties(log_file: Path) -> str:
    """log4j 1.x config: warnings and the start/stop lines go to *log_file*, nothing to stdout."""
    return (
        "log4j.rootLogger=WARN, file\n"
        "log4j.appender.file=org.apache.log4j.FileAppender\n"
        f"log4j.appender.file.File={log_file}\n"
        "log4j.appender.file.Append=true\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.server.KafkaServer=INFO\n"
        "log4j.logger.kafka.server.KafkaRaftServer=INFO\n"
    )


def scram_format_args(scram_users: dict[str, str] | None) -> list[str]:
    """``--add-scram`` arguments for ``StorageTool format`` (users exist from the first start)."""
    args: list[str] = []
    for name, password in (scram_users or {}).items():
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]"]
    return args


def format_command(
    java: str,
    jars: Path,
    log4j: Path,
    props: Path,
    cluster_id: str,
    scram_users: dict[str, str] | None = None,
) -> list[str]:
    """``StorageTool format``: writes meta.properties (and SCRAM users) into an empty log dir."""
    return [
        java,
        "-cp",
        f"{jars}/*",
        f"-Dlog4j.configuration=file:{log4j}",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(props),
        "--ignore-formatted",
        *scram_format_args(scram_users),
    ]


def broker_command(java: str, jars: Path, log4j: Path, props: Path, heap: str) -> list[str]:
    """The broker JVM; exits on OOM instead of limping on, so a test sees a clear failure."""
    return [
        java,
        f"-Xmx{heap}",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        "-cp",
        f"{jars}/*",
        f"-Dlog4j.configuration=file:{log4j}",
        "kafka.Kafka",
        str(props),
    ]


def read_state(data_dir: Path) -> dict | None:
    """Contents of *data_dir*/broker.json (ports, bootstrap of the last start), or None."""
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_state(data_dir: Path, **state: object) -> None:
    """Record how the broker of *data_dir* was started, for ``status``/``stop`` and restarts."""
    text = json.dumps({**state, "started_at": time.time()}, indent=2) + "\n"
    (data_dir / STATE_FILE).write_text(text)


def read_pid(data_dir: Path) -> int | None:
    """Pid in *data_dir*/broker.pid, or None when no broker was left running there."""
    try:
        return int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
