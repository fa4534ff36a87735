"""Local servers the project starts (the Kafka broker, the S3 server, the storage emulators):
fetching their jars from Maven Central, starting one in its own process group, telling whether
one still runs (from its pid file: the process, not a network round trip, so it is instant),
whether its port answers, and stopping it (signal the group, wait, reap)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# Servers started by this process, by pid. Holding the Popen lets us reap one that died (no
# zombie mistaken for a live server) and ask it directly whether it still runs.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(command: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start *command* in a new session (its own process group: pgid == pid, so a stop
    reaches its children too), stdin closed, stdout and stderr appended to *log*."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def child_running(pid: int) -> bool:
    """True while *pid* is a child this process started and it has not exited."""
    child = _CHILDREN.get(pid)
    return child is not None and child.poll() is None


def signal_group(pid: int, sig: int) -> None:
    """Send *sig* to the process group *pid* leads; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def stop_group(pid: int, alive: Callable[[], bool], steps: Iterable[tuple[int, float]]) -> bool:
    """Send each ``(signal, seconds)`` of *steps* in turn to *pid*'s group and wait up to that
    long for ``alive()`` to turn false; True once it has (the child reaped), else False."""
    for sig, wait in steps:
        signal_group(pid, sig)
        deadline = time.monotonic() + wait
        while True:
            if not alive():
                child = _CHILDREN.pop(pid, None)
                if child is not None:
                    child.wait()
                return True
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    return False


def discard(proc: subprocess.Popen) -> None:
    """Kill a server whose start failed (its whole group), reap it and forget it."""
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    _CHILDREN.pop(proc.pid, None)


def server_alive(pid: int, marker: str, data_dir: Path) -> bool:
    """True if *pid* is a live process whose command line holds *marker* (its main class) and
    *data_dir*: not a zombie, not a reused pid. A child of this process is asked directly."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    proc = Path(f"/proc/{pid}")
    if proc.parent.is_dir():  # Linux: check the command line and the zombie state
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return marker in cmdline and str(data_dir) in cmdline and state != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(port: int) -> bool:
    """True if something accepts TCP connections on 127.0.0.1:*port* (within 0.5 s)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def build_once(
    target: Path,
    ready: Callable[[Path], bool],
    build: Callable[[Path], None],
    fail: Callable[[str], Exception],
) -> Path:
    """``target`` once ``build(tmp)`` has filled a temp dir beside it, renamed when complete,
    so an interrupted download or build is never mistaken for a cache. ``ready`` tells a
    finished dir; ``fail`` builds the error raised when ``build`` left nothing usable."""
    if ready(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        if not ready(tmp):
            raise fail(f"building {target.name} left nothing usable in {tmp}")
        if target.exists():  # an incomplete leftover (ready said no)
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not ready(target):  # lost a race with a concurrent build?
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fetch_maven_dependencies(
    mvn: str,
    pom: Path,
    target: Path,
    properties: dict[str, str],
    complete: Callable[[Path], bool],
    fail: Callable[[str], Exception],
    what: str,
) -> Path:
    """Copy *pom*'s runtime dependencies from Maven Central into *target* (``build_once``).

    *complete* tells a finished dir; *fail* builds the error raised (with *what* and the tail
    of Maven's output) when ``mvn`` fails."""

    def fetch(tmp: Path) -> None:
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
               "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]  # fmt: skip
        cmd += [f"-D{name}={value}" for name, value in properties.items()]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not complete(tmp):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            raise fail(
                f"mvn could not fetch {what} (exit {proc.returncode}); check access to Maven"
                f" Central:\n{tail}"
            )

    return build_once(target, complete, fetch, fail)
