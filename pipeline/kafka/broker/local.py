"""Run a local single-node Apache Kafka broker (KRaft, no ZooKeeper) from Maven jars.

Tests and ``evalstream broker`` need a real broker without Docker or a Kafka install: the jars
come from Maven Central once (``jars.ensure_jars``), the broker runs as a detached JVM whose
state lives in one data dir (config, logs, ``broker.pid``, ``broker.json``), so a later process
(``evalstream broker stop``) or a crash-recovery test can find, stop or restart it.

Data dir default for :func:`start_broker`: ``~/.cache/evalstream/broker-<port>`` (kept between
runs; restarting on the same dir keeps the topics). The CLI uses ``~/.cache/evalstream/broker``.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.kafka.broker import config as cfg
from pipeline.kafka.broker.config import DEFAULT_KAFKA_VERSION, free_port
from pipeline.kafka.broker.exceptions import BrokerError
from pipeline.kafka.broker.jars import ensure_jars, require_tool, tail_lines
from pipeline.local_process import discard, port_open, server_alive, spawn, stop_group


@dataclass(frozen=True)
class BrokerHandle:
    """A running broker: what clients need (bootstrap) and what stop/kill need (data_dir)."""

    bootstrap: str
    port: int
    data_dir: Path
    pid: int
    sasl_bootstrap: str | None = None
    ssl_bootstrap: str | None = None  # with a TLS keystore
    sasl_ssl_bootstrap: str | None = None  # with a TLS keystore and SCRAM users


def _data_dir_of(target: Path | BrokerHandle) -> Path:
    path = target.data_dir if isinstance(target, BrokerHandle) else Path(target)
    return path.expanduser().resolve()


def _alive(pid: int, data_dir: Path) -> bool:
    """True if *pid* is a live broker JVM of *data_dir* (not a zombie, not a reused pid)."""
    return server_alive(pid, "kafka.Kafka", data_dir)


def broker_status(data_dir: Path | BrokerHandle) -> dict | None:
    """State of the broker of *data_dir*, or None if no broker was ever started there.

    Returns ``{"running", "pid", "bootstrap", "port", "data_dir", ...}``; running is judged
    by the process, not by a network round trip, so it is instant.
    """
    data_dir = _data_dir_of(data_dir)
    state = cfg.read_state(data_dir)
    if state is None:
        return None
    pid = cfg.read_pid(data_dir)
    running = pid is not None and _alive(pid, data_dir)
    return {**state, "running": running, "pid": pid if running else None, "data_dir": str(data_dir)}


def is_reachable(bootstrap: str, timeout: float = 3) -> bool:
    """True if a Kafka broker at *bootstrap* answers a metadata request listing a broker."""
    from kafka import KafkaAdminClient  # imported lazily: no work at import time

    ms = max(int(timeout * 1000), 100)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=ms,
            request_timeout_ms=ms,
            reconnect_backoff_max_ms=200,
        )
    except Exception:  # any failure means "not reachable"
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except Exception:
        return False
    finally:
        admin.close()


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    text = ""
    for name in (cfg.OUT_FILE, cfg.LOG_FILE):
        with contextlib.suppress(OSError):
            text += (data_dir / name).read_text(errors="replace")
    return tail_lines(text, lines) or "(no broker output)"


def _signal_and_wait(data_dir: Path, sig: int, timeout: float) -> bool:
    """Send *sig* to the broker's process group; True once it is gone within *timeout*."""
    pid = cfg.read_pid(data_dir)
    if pid is None or not _alive(pid, data_dir):
        (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
        return True
    if not stop_group(pid, lambda: _alive(pid, data_dir), [(sig, timeout)]):
        return False
    (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
    return True


def stop_broker(target: Path | BrokerHandle, timeout: float = 30) -> None:
    """Stop the broker gracefully (SIGTERM), SIGKILL it if it is still up after *timeout*.

    A graceful stop lets Kafka write its clean-shutdown marker, so the next start skips log
    recovery. Stopping a broker that is not running is a no-op.
    """
    data_dir = _data_dir_of(target)
    if _signal_and_wait(data_dir, signal.SIGTERM, timeout):
        return
    kill_broker(data_dir)


def kill_broker(target: Path | BrokerHandle, timeout: float = 10) -> None:
    """SIGKILL the broker, as a crash would (the OS page cache survives): for chaos tests."""
    data_dir = _data_dir_of(target)
    if not _signal_and_wait(data_dir, signal.SIGKILL, timeout):
        raise BrokerError(f"broker of {data_dir} survived SIGKILL for {timeout}s (pid file kept)")


def _pick_port(wanted: int | None, previous: int | None, taken: set[int]) -> int:
    if wanted is not None:
        if not cfg.port_is_free(wanted):
            raise BrokerError(f"port {wanted} is already in use; pick another with --port")
        return wanted
    if previous and previous not in taken and cfg.port_is_free(previous):
        return previous  # reuse the port of the last run so old bootstrap strings still work
    return free_port(exclude=taken)


def start_broker(
    port: int | None = None,
    data_dir: Path | None = None,
    *,
    timeout: float = 60,
    heap: str = "512m",
    scram_users: dict[str, str] | None = None,
    sasl_port: int | None = None,
    tls_keystore: Path | None = None,
    version: str = DEFAULT_KAFKA_VERSION,
) -> BrokerHandle:
    """Start a detached broker and return once it answers metadata requests.

    A data dir that was formatted before keeps its cluster id and topics: stopping (or killing)
    and starting again on the same dir is how crash recovery is tested. With *port* None the
    previous port of that dir is reused if free, else a free one is picked. With
    *scram_users* a SASL_PLAINTEXT listener (SCRAM-SHA-256) is added on *sasl_port*; users
    are created when the dir is first formatted only. With *tls_keystore* (a PEM file: the
    broker's private key and certificate chain) an SSL listener is added, and with SCRAM
    users a SASL_SSL one too (``pipeline.kafka.broker.tls``).
    """
    java = require_tool("java", "openjdk-17-jre-headless")
    if data_dir is None:
        port = port if port is not None else free_port()
        data_dir = cfg.evalstream_cache_dir() / f"broker-{port}"
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    status = broker_status(data_dir)
    if status and status["running"]:
        raise BrokerError(
            f"a broker from {data_dir} is already running (pid {status['pid']}, "
            f"{status['bootstrap']}); stop it first"
        )
    previous = status or {}
    port = _pick_port(port, previous.get("port"), set())
    controller_port = _pick_port(None, previous.get("controller_port"), {port})
    if scram_users and sasl_port is None:
        sasl_port = _pick_port(None, previous.get("sasl_port"), {port, controller_port})
    elif sasl_port is not None:
        sasl_port = _pick_port(sasl_port, None, set())
    taken = {port, controller_port, *([sasl_port] if sasl_port else [])}
    ssl_port = sasl_ssl_port = None
    if tls_keystore is not None:
        ssl_port = free_port(exclude=taken)
        if scram_users:
            sasl_ssl_port = free_port(exclude={*taken, ssl_port})
    jars = ensure_jars(version)

    log_dir = data_dir / cfg.LOG_SUBDIR
    props = data_dir / cfg.SERVER_PROPERTIES
    log4j = data_dir / cfg.LOG4J_PROPERTIES
    props.write_text(
        cfg.server_properties(
            port=port,
            controller_port=controller_port,
            log_dir=log_dir,
            sasl_port=sasl_port,
            scram_users=scram_users,
            ssl_port=ssl_port,
            sasl_ssl_port=sasl_ssl_port,
            tls_keystore=tls_keystore,
        )
    )
    log4j.write_text(cfg.log4j_properties(data_dir / cfg.LOG_FILE))
    if cfg.read_cluster_id(log_dir) is None:
        fmt = subprocess.run(
            cfg.format_command(java, jars, log4j, props, cfg.new_cluster_id(), scram_users),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise BrokerError(
                f"formatting {log_dir} failed:\n{tail_lines(fmt.stdout + fmt.stderr)}"
            )

    command = cfg.broker_command(java, jars, log4j, props, heap)
    proc = spawn(command, data_dir / cfg.OUT_FILE, cwd=data_dir)
    try:
        bootstrap = f"127.0.0.1:{port}"
        sasl_bootstrap = f"127.0.0.1:{sasl_port}" if sasl_port is not None else None
        (data_dir / cfg.PID_FILE).write_text(f"{proc.pid}\n")
        cfg.write_state(
            data_dir,
            port=port,
            bootstrap=bootstrap,
            pid=proc.pid,
            controller_port=controller_port,
            sasl_port=sasl_port,
            sasl_bootstrap=sasl_bootstrap,
            kafka_version=version,
        )

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(
                    f"broker exited with code {proc.returncode} while starting; see "
                    f"{data_dir / cfg.LOG_FILE}:\n{_log_tail(data_dir)}"
                )
            if port_open(port) and is_reachable(bootstrap, timeout=min(5.0, timeout)):
                return BrokerHandle(
                    bootstrap,
                    port,
                    data_dir,
                    proc.pid,
                    sasl_bootstrap,
                    f"127.0.0.1:{ssl_port}" if ssl_port else None,
                    f"127.0.0.1:{sasl_ssl_port}" if sasl_ssl_port else None,
                )
            time.sleep(0.2)
        raise BrokerError(
            f"broker did not answer on {bootstrap} within {timeout:.0f}s (killed it); see "
            f"{data_dir / cfg.LOG_FILE}:\n{_log_tail(data_dir)}"
        )
    except BaseException:  # never leave a half-started JVM behind (Ctrl-C, bugs)
        discard(proc)
        (data_dir / cfg.PID_FILE).unlink(missing_ok=True)
        raise
