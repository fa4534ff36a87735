"""One pool process: ``python -m evaluators.pool.child``, started by ``EvaluatorProcessPool``.

Shared-nothing: it builds the configured evaluators itself, from the config and the registry
factory the worker names in its first message (by default ``evaluators.registry:discover``,
i.e. the same entry-point plugins, with the worker's allow list), then scores jobs: traces in
as bytes, one message of result bytes per evaluator as soon as that evaluator is done (the
worker times each evaluator from the previous one's message, and kills this process when one
overruns its ``timeout_seconds``). Its stdout is reserved for those messages (anything the
evaluators print goes to stderr); stdin at end of file or the worker gone: it exits.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from typing import Any

from evaluators.calls import Progress, evaluate, select
from evaluators.config import parse_config
from evaluators.outcome import error_result
from evaluators.pool.framing import PipeClosedError, encode, read_message, write_all
from evaluators.pool.payload import results_to_bytes, trace_from_bytes
from evaluators.runner import ConfiguredEvaluator, build_evaluators

PARENT_CHECK_SECONDS = 0.5


def load_factory(path: str) -> Any:
    """``module:function`` -> the function (an import and an attribute lookup, no eval)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def build(hello: dict[str, Any]) -> dict[str, ConfiguredEvaluator]:
    for entry in reversed(hello.get("sys_path") or []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    registry = load_factory(hello["registry"])(allow=hello.get("allow"))
    built = build_evaluators(parse_config(hello["config"], origin="<pool>"), registry)
    by_name = {configured.name: configured for configured in built}
    missing = [name for name in hello["names"] if name not in by_name]
    if missing:
        raise LookupError(f"evaluators not built in the pool process: {', '.join(missing)}")
    return {name: by_name[name] for name in hello["names"]}


def score_job(
    out_fd: int, header: dict[str, Any], frames: list[bytes], pool: dict[str, ConfiguredEvaluator]
) -> None:
    traces = [trace_from_bytes(frame) for frame in frames]
    for name in header["evaluators"]:
        configured = pool[name]
        work = select(configured, traces)
        progress = Progress(len(work.indexes))
        evaluate(configured, work, progress)
        slots = [
            done
            if done is not None
            else [error_result(configured.evaluator, "no result", None, span_id=span_id)]
            for done, span_id in zip(
                progress.results, work.span_ids or [None] * len(work.indexes), strict=True
            )
        ]
        reply = {"kind": "result", "job": header["job"], "evaluator": name, "slots": len(slots)}
        write_all(out_fd, encode(reply, [results_to_bytes(slots)]))


def _exit_when_orphaned(parent: int) -> None:
    """A hung evaluator never reads stdin again: watch the parent, so a killed worker leaves
    no pool process behind."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(3)


def main() -> int:
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # print() in an evaluator must not corrupt the message stream
    sys.stdout = sys.stderr
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    try:
        hello, _ = read_message(in_fd)
        pool = build(hello)
    except PipeClosedError:
        return 0
    except Exception as exc:  # a broken config or plugin: one line back to the worker
        write_all(out_fd, encode({"kind": "error", "message": f"{type(exc).__name__}: {exc}"}))
        return 2
    write_all(out_fd, encode({"kind": "ready", "pid": os.getpid(), "names": list(pool)}))
    while True:
        try:
            header, frames = read_message(in_fd)
            if header.get("kind") == "stop":
                return 0
            score_job(out_fd, header, frames, pool)
        except PipeClosedError:
            return 0


if __name__ == "__main__":
    sys.exit(main())
