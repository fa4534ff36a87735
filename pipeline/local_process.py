"""Telling whether a local server the project started (the Kafka broker, the S3 server) is
still running, from its pid file: the process, not a network round trip, so it is instant."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def server_alive(
    pid: int, marker: str, data_dir: Path, children: dict[int, subprocess.Popen]
) -> bool:
    """True if *pid* is a live process whose command line holds *marker* (its main class) and
    *data_dir*: not a zombie, not a reused pid. A child of this process is asked directly."""
    child = children.get(pid)
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
