"""A pool of evaluator processes, so CPU-bound evaluators use more than one core.

Each process (``child.py``) builds the same configured evaluators once; a batch is cut into
one contiguous chunk per process, every chunk goes to its process as trace bytes, and each
evaluator's results come back as bytes as soon as it is done, in config order. Isolation is
the runner's, per process:

- an evaluator that raises: error results for it only (``evaluators.calls.evaluate``, in the
  process);
- one that overruns ``timeout_seconds`` (timed from the previous evaluator's results): its
  slots of that chunk get a timeout error, the process is killed and replaced, and the
  chunk's remaining evaluators run on the new one;
- a process that dies (OOM killer, a crashing extension): replaced, and the evaluator it was
  running is retried once on the new one; a second death gives that evaluator error results.

Nothing is lost: every slot ends with results or an error result, and the worker never dies.
"""

from __future__ import annotations

import logging
import select
import sys
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from evaluators.calls import Progress, Work
from evaluators.config import EvaluatorConfig
from evaluators.exceptions import EvaluatorError
from evaluators.outcome import error_result
from evaluators.pool.framing import PipeClosedError, encode
from evaluators.pool.member import Member
from evaluators.pool.payload import results_from_bytes, trace_to_bytes
from evaluators.runner import ConfiguredEvaluator
from schemas import Trace

DEFAULT_REGISTRY = "evaluators.registry:discover"
START_TIMEOUT_SECONDS = 120.0
log = logging.getLogger(__name__)


class PoolStartError(EvaluatorError):
    """The evaluator processes could not start (bad config or plugin in the process)."""


@dataclass
class _Task:
    """One evaluator's slots ``lo:hi`` of the batch's work, scored in one chunk."""

    configured: ConfiguredEvaluator
    progress: Progress
    span_ids: list[str]
    lo: int
    hi: int


@dataclass
class _Chunk:
    member: Member
    frames: list[bytes]
    pending: deque[_Task]
    deadline: float = float("inf")  # of pending[0], while its process is busy
    job: int = 0
    deaths: dict[str, int] = field(default_factory=dict)


class EvaluatorProcessPool:
    """``processes`` evaluator processes that score the evaluators named ``names``."""

    def __init__(
        self,
        config: EvaluatorConfig,
        names: Sequence[str],
        processes: int,
        *,
        registry: str = DEFAULT_REGISTRY,
        allow: Sequence[str] | None = None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        python: str = sys.executable,
    ) -> None:
        if processes < 1:
            raise ValueError("an evaluator process pool needs at least one process")
        hello = encode(
            {
                "kind": "hello",
                "config": config.model_dump(mode="json", exclude_unset=True),
                "names": list(names),
                "registry": registry,
                "allow": list(allow) if allow is not None else None,
                "sys_path": list(sys.path),
            }
        )
        self.names = list(names)
        self.start_timeout = start_timeout
        self.restarts = 0
        self._members = [Member(hello, python) for _ in range(processes)]
        self._lock = threading.Lock()
        self._jobs = 0
        for member in self._members:
            member.spawn(start_timeout)
        problem = self._wait_started()
        if problem:
            self.close()
            raise PoolStartError(f"evaluator processes did not start: {problem}")

    @property
    def pids(self) -> list[int]:
        return [m.pid for m in self._members if m.pid is not None and m.alive()]

    def run(
        self, traces: Sequence[Trace], items: Sequence[tuple[ConfiguredEvaluator, Work]]
    ) -> dict[str, Progress]:
        """Every slot of every item's work filled (results or an error result), by name."""
        results = {c.name: Progress(len(work.indexes)) for c, work in items}
        with self._lock:
            chunks = self._chunks(traces, items, results)
            for chunk in chunks:
                self._dispatch(chunk)
            self._drive(chunks)
        return results

    def close(self) -> None:
        for member in self._members:
            member.stop()

    def _chunks(self, traces, items, results) -> list[_Chunk]:
        count = min(len(self._members), len(traces))
        bounds = [len(traces) * k // count for k in range(count + 1)] if count else [0]
        chunks = []
        for k in range(count):
            first, end = bounds[k], bounds[k + 1]
            tasks: deque[_Task] = deque()
            for configured, work in items:
                lo, hi = bisect_left(work.indexes, first), bisect_left(work.indexes, end)
                if hi > lo:
                    progress = results[configured.name]
                    tasks.append(_Task(configured, progress, work.span_ids, lo, hi))
            if tasks:
                frames = [trace_to_bytes(trace) for trace in traces[first:end]]
                chunks.append(_Chunk(self._members[k], frames, tasks))
        return chunks

    def _wait_started(self) -> str | None:
        while any(m.state == "starting" for m in self._members):
            starting = {m.fd: m for m in self._members if m.state == "starting"}
            wait = min(m.deadline for m in starting.values()) - time.monotonic()
            readable, _, _ = select.select(list(starting), [], [], max(wait, 0.0))
            for fd in readable:
                member = starting[fd]
                try:
                    messages = member.read()
                except PipeClosedError:
                    return f"a process exited with code {member.exit_code()} while starting"
                for header, _ in messages:
                    if header.get("kind") == "error":
                        return header.get("message", "unknown error")
                    if header.get("kind") == "ready":
                        member.state, member.pid = "idle", header.get("pid", member.pid)
            if not readable and time.monotonic() >= min(m.deadline for m in starting.values()):
                return f"no process was ready within {self.start_timeout}s"
        return None

    def _drive(self, chunks: list[_Chunk]) -> None:
        while True:
            active = [chunk for chunk in chunks if chunk.pending]
            if not active:
                return
            for chunk in active:
                if chunk.member.state in ("idle", "dead"):
                    self._dispatch(chunk)  # never wait on a process that has nothing to do
            watched = {c.member.fd: c for c in active if c.member.state in ("starting", "busy")}
            deadline = min(
                c.member.deadline if c.member.state == "starting" else c.deadline for c in active
            )
            wait = max(deadline - time.monotonic(), 0.0)
            readable, _, _ = select.select(list(watched), [], [], wait) if watched else ([], [], [])
            for fd in readable:
                chunk = watched[fd]
                try:
                    messages = chunk.member.read()
                except PipeClosedError:
                    self._died(chunk)
                    continue
                for header, frames in messages:
                    self._handle(chunk, header, frames)
            now = time.monotonic()
            for chunk in active:
                member = chunk.member
                if chunk.pending and member.state == "starting" and now >= member.deadline:
                    self._start_failed(chunk, f"not ready within {self.start_timeout}s")
                elif chunk.pending and member.state == "busy" and now >= chunk.deadline:
                    self._timed_out(chunk)

    def _dispatch(self, chunk: _Chunk) -> None:
        member = chunk.member
        if member.state == "idle" and not member.alive():
            member.kill()  # died between batches: replaced, nothing was running on it
        if member.state == "dead":
            self._respawn(member)
        if member.state != "idle":
            return  # dispatched once its "ready" arrives
        self._jobs += 1
        chunk.job = self._jobs
        names = [task.configured.name for task in chunk.pending]
        try:
            member.send({"kind": "job", "job": chunk.job, "evaluators": names}, chunk.frames)
        except PipeClosedError:
            member.state = "busy"
            self._died(chunk)
            return
        member.state = "busy"
        chunk.deadline = time.monotonic() + chunk.pending[0].configured.timeout_seconds

    def _handle(self, chunk: _Chunk, header: dict, frames: list[bytes]) -> None:
        kind = header.get("kind")
        if kind == "ready":
            chunk.member.state = "idle"
            chunk.member.pid = header.get("pid", chunk.member.pid)
            self._dispatch(chunk)
        elif kind == "error":
            self._start_failed(chunk, header.get("message", "unknown error"))
        elif kind == "result" and chunk.pending and header.get("job") == chunk.job:
            task = chunk.pending.popleft()
            try:
                if header.get("evaluator") != task.configured.name:
                    raise ValueError(f"results of {header.get('evaluator')!r} out of order")
                slots = results_from_bytes(frames[0])
                if len(slots) != task.hi - task.lo:
                    raise ValueError(f"{len(slots)} result slots for {task.hi - task.lo}")
            except (ValueError, IndexError) as exc:
                self._fail(task, f"unreadable results from its pool process: {exc}")
            else:
                task.progress.results[task.lo : task.hi] = slots
            if chunk.pending:
                chunk.deadline = time.monotonic() + chunk.pending[0].configured.timeout_seconds
            else:
                chunk.member.state = "idle"

    def _timed_out(self, chunk: _Chunk) -> None:
        task = chunk.pending.popleft()
        timeout = task.configured.timeout_seconds
        self._fail(task, f"timed out after {timeout}s (its evaluator process was replaced)")
        log.warning("evaluator %s timed out in pid %s: replaced", task.configured.name,
                    chunk.member.pid)  # fmt: skip
        chunk.member.kill()
        self._respawn(chunk.member)
        if chunk.pending:
            self._dispatch(chunk)

    def _died(self, chunk: _Chunk) -> None:
        member = chunk.member
        was, code = member.state, member.exit_code()
        member.kill()
        if was == "starting":
            self._start_failed(chunk, f"exited with code {code} while starting")
            return
        if chunk.pending:
            task = chunk.pending[0]
            deaths = chunk.deaths[task.configured.name] = (
                chunk.deaths.get(task.configured.name, 0) + 1
            )
            log.warning("evaluator process %s died (exit code %s) running %s: replaced",
                        member.pid, code, task.configured.name)  # fmt: skip
            if deaths >= 2:
                chunk.pending.popleft()
                self._fail(task, f"its evaluator process died twice (exit code {code})")
        self._respawn(member)
        if chunk.pending:
            self._dispatch(chunk)

    def _start_failed(self, chunk: _Chunk, why: str) -> None:
        chunk.member.kill()
        log.warning("evaluator process could not start: %s", why)
        while chunk.pending:
            self._fail(chunk.pending.popleft(), f"evaluator process could not start: {why}")

    def _respawn(self, member: Member) -> None:
        if member.started:
            self.restarts += 1
        member.spawn(self.start_timeout)

    @staticmethod
    def _fail(task: _Task, why: str) -> None:
        evaluator = task.configured.evaluator
        for slot in range(task.lo, task.hi):
            span_id = task.span_ids[slot] if task.span_ids else None
            task.progress.results[slot] = [error_result(evaluator, why, None, span_id=span_id)]
