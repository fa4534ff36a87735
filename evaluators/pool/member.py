"""One process of the pool, seen from the worker: start it, send it a job, read its messages,
kill it. The pool drives several of these from one ``select`` loop (``pool.py``)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from typing import Any

from evaluators.pool.framing import Message, MessageReader, PipeClosedError, encode, write_all

STOP_WAIT_SECONDS = 2.0


class Member:
    """A pool process: ``starting`` (until its ``ready``), ``idle``, ``busy`` or ``dead``."""

    def __init__(self, hello: bytes, python: str = sys.executable) -> None:
        self._hello = hello
        self._python = python
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: MessageReader | None = None
        self.state = "dead"
        self.pid: int | None = None
        self.deadline = float("inf")  # of its start while starting
        self.started = 0  # processes started for this slot (restarts = started - 1)

    def spawn(self, start_timeout: float) -> None:
        self.proc = subprocess.Popen(
            [self._python, "-m", "evaluators.pool.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.reader = MessageReader(self.proc.stdout.fileno())
        self.pid = self.proc.pid
        self.state = "starting"
        self.deadline = time.monotonic() + start_timeout
        self.started += 1
        with contextlib.suppress(PipeClosedError):  # died at once: its end of file says so
            write_all(self.proc.stdin.fileno(), self._hello)

    @property
    def fd(self) -> int:
        assert self.reader is not None
        return self.reader.fd

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, header: dict[str, Any], frames: list[bytes]) -> None:
        """Raises ``PipeClosedError`` when the process is gone."""
        assert self.proc is not None and self.proc.stdin is not None
        write_all(self.proc.stdin.fileno(), encode(header, frames))

    def read(self) -> list[Message]:
        """Complete messages now readable; ``PipeClosedError`` when the process is gone."""
        assert self.reader is not None
        return self.reader.read_available()

    def exit_code(self) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL and reap (a hung evaluator ignores anything gentler)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self._close_pipes()
        self.state = "dead"

    def stop(self) -> None:
        """Ask it to exit, wait a little, then kill it: no orphan either way."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.send({"kind": "stop"}, [])
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=STOP_WAIT_SECONDS)
            except (PipeClosedError, OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def _close_pipes(self) -> None:
        assert self.proc is not None
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
