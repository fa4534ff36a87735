"""Deterministic ~1 KB benchmark traces: the sample traces plus more retrieved context,
expectations (expected response and facts), session tags and a system prompt.

Built on :func:`pipeline.tools.demo.samples.sample_traces` so the mix (RAG answers right and
wrong, chat, harmful requests, errors) matches the demo and the tests.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from pipeline.tools.demo.samples import _FACTS, sample_traces

_SYSTEM = (
    "You are the support assistant of Acme Cloud. Answer only from the provided documents; "
    "if they do not contain the answer, say so and offer to open a ticket."
)
_EXTRA_DOCS = [fact[1] for fact in _FACTS]


def bench_traces(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` JSON-ready traces, ~1 KB each once serialised."""
    rng = random.Random(seed)
    out = []
    for i, trace in enumerate(sample_traces(count, seed=seed, spread_seconds=3600)):
        tags = trace.setdefault("tags", {})
        tags.update(
            version=f"2.{i % 7}.0",
            user_id=f"user-{rng.randint(1, 5000):05d}",
            session_id=f"sess-{rng.getrandbits(48):012x}",
            region=rng.choice(["eu-central-1", "us-west-2"]),
        )
        context = trace.get("context")
        if context is not None:  # RAG trace: 3-4 retrieved documents, expectations mostly set
            extra = [doc for doc in rng.sample(_EXTRA_DOCS, 2) if doc not in context]
            trace["context"] = context + extra
            question = trace["inputs"]["question"]
            fact = next(f for f in _FACTS if f[0] == question)
            if rng.random() < 0.8:
                trace["expectations"] = {
                    "expected_response": fact[2],
                    "expected_facts": [s.strip() for s in fact[1].split(". ") if s.strip()][:2],
                }
        elif isinstance(trace.get("inputs"), dict) and "messages" in trace["inputs"]:
            trace["inputs"]["messages"].insert(0, {"role": "system", "content": _SYSTEM})
            trace["context"] = [rng.choice(_EXTRA_DOCS)]
        else:
            trace["inputs"] = {
                "messages": [
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": trace["inputs"]},
                ]
            }
        out.append(trace)
    return out


def encoded(count: int, seed: int = 11) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs ready to produce: key = trace_id, value = JSON bytes."""
    return [(t["trace_id"].encode(), orjson.dumps(t)) for t in bench_traces(count, seed=seed)]


if __name__ == "__main__":  # size check: python benchmarks/_bench_traces.py
    import statistics
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipeline.decode.trace import decode_trace

    pairs = encoded(2000)
    sizes = [len(v) for _, v in pairs]
    print(f"mean {statistics.mean(sizes):.0f} B, min {min(sizes)}, max {max(sizes)}")
    for _, value in pairs:
        decode_trace(value)
    print(pairs[0][1].decode())
