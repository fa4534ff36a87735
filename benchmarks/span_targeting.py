"""Cost of span targeting (``apply_to``) in the runner, against a hand-written span loop.

    .venv/bin/python benchmarks/span_targeting.py [--traces 500] [--spans 10] [--rounds 15]

Batches of ``--traces`` agent traces with ``--spans`` TOOL spans each (plus one LLM span that
``apply_to`` must skip) go through ``EvaluationRunner.score``, the worker's own call, in three
set-ups that all yield one result per TOOL span with its ``span_id``:

- ``apply_to``: the built-in ``latency`` with ``apply_to = { span_type = ["TOOL"] }`` (the
  class form: each span reaches ``evaluate`` as a span view);
- ``apply_to (function)``: a function evaluator ``(outputs, span)`` with the same target;
- ``hand-written loop`` (the baseline): one trace-level evaluator that walks ``trace.spans``
  itself and returns a list of ``Result(span_id=...)``, the way a plugin had to before
  ``apply_to`` (and the way ``context_sufficiency`` does for retriever spans).

Rounds interleave the set-ups so machine noise hits them alike; the table shows the best and
the median time per span and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators import EvaluationRunner, Result, evaluator  # noqa: E402
from evaluators.builtin.operational import LatencyEvaluator  # noqa: E402
from evaluators.runner import ConfiguredEvaluator  # noqa: E402
from evaluators.targeting import SpanTarget, span_duration_ms  # noqa: E402
from schemas import Trace  # noqa: E402

SLO_MS = 1000.0


@evaluator(name="tool_latency_fn")
def tool_latency_fn(outputs, span) -> Result:
    ms = span_duration_ms(span)
    return Result(score=1.0 if ms <= SLO_MS else SLO_MS / ms, metadata={"latency_ms": ms})


@evaluator(name="tool_latency_loop")
def tool_latency_loop(trace) -> list[Result]:
    out = []
    for index, span in enumerate(trace.spans or []):
        if (span.span_type or "").upper() != "TOOL":
            continue
        ms = span_duration_ms(span)
        out.append(
            Result(
                score=1.0 if ms <= SLO_MS else SLO_MS / ms,
                span_id=span.span_id or f"span-{index}",
                metadata={"latency_ms": ms},
            )
        )
    return out


def traces(count: int, spans: int) -> list[Trace]:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    made = []
    for i in range(count):
        tools = [
            {"span_id": f"t{i}-s{k}", "span_type": "TOOL", "name": f"tool_{k % 3}",
             "start_time": t0 + timedelta(seconds=k),
             "end_time": t0 + timedelta(seconds=k, milliseconds=200 * (k % 8)),
             "inputs": {"arg": k}, "outputs": f"result {k}"}
            for k in range(spans)
        ]  # fmt: skip
        llm = {"span_id": f"t{i}-llm", "span_type": "LLM", "name": "chat", "outputs": "answer"}
        made.append(Trace.model_validate({"trace_id": f"t{i}", "spans": [llm, *tools]}))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=500, help="traces per batch")
    parser.add_argument("--spans", type=int, default=10, help="TOOL spans per trace")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    batch = traces(args.traces, args.spans)
    target = SpanTarget(span_type=["TOOL"])
    setups = {
        "apply_to (class form: latency)": ConfiguredEvaluator(
            LatencyEvaluator(slo_ms=SLO_MS), threshold=1.0, apply_to=target
        ),
        "apply_to (function form)": ConfiguredEvaluator(
            tool_latency_fn, threshold=1.0, apply_to=target
        ),
        "hand-written loop (baseline)": ConfiguredEvaluator(tool_latency_loop, threshold=1.0),
    }
    runners = {name: EvaluationRunner([c]) for name, c in setups.items()}
    expected = args.traces * args.spans
    for name, runner in runners.items():  # warm-up, and every set-up gives the same rows
        results = [r for rs in runner.score(batch) for r in rs]
        assert len(results) == expected and all(r.span_id and r.error is None for r in results)
        assert [r.score for r in results] == [
            r.score for rs in runners[next(iter(runners))].score(batch) for r in rs
        ], name
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner.score(batch)
            times[name].append(time.perf_counter() - start)
    for runner in runners.values():
        runner.close()

    print(f"{args.traces} traces x {args.spans} TOOL spans (+1 LLM span) per batch,"
          f" {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| set-up | best µs/span | median µs/span | spans/s (best) |")
    print("|---|---:|---:|---:|")
    for name, seconds in times.items():
        best, median = min(seconds) / expected * 1e6, statistics.median(seconds) / expected * 1e6
        print(f"| {name} | {best:.1f} | {median:.1f} | {1e6 / best:,.0f} |")


if __name__ == "__main__":
    main()
