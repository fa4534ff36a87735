"""Chaos benchmark: exactly-once under many SIGKILLs and a broker restart.

    .venv/bin/python benchmarks/chaos.py [--traces 100000] [--kills 20] [--seed 1]

The same run as tests/reliability/test_chaos.py (which uses N=5,000, K=3), at full size.
Prints the counts that must match and the wall time; docs/guarantees.md records a run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "reliability")]

from chaos import EVALUATORS, SPANS, run_chaos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalstream-chaos-") as workdir:
        result = run_chaos(Path(workdir), args.traces, args.kills, seed=args.seed)
    expected_rows = args.traces * EVALUATORS
    checks = {
        "Parquet rows": (result.parquet_rows, expected_rows),
        "distinct traces in Parquet": (result.distinct_traces, args.traces),
        "duplicate (trace_id, evaluator) pairs": (result.duplicate_pairs, 0),
        "scored messages (read_committed)": (result.scored_messages, args.traces),
        "distinct scored trace ids": (result.scored_distinct, args.traces),
        "traces dataset rows": (result.trace_rows, args.traces),
        "duplicate traces rows": (result.trace_duplicates, 0),
        "spans dataset rows": (result.span_rows, args.traces * SPANS),
        "duplicate (trace_id, span_id) pairs": (result.span_duplicates, 0),
    }
    print(f"chaos: N={args.traces:,} K={args.kills} seed={args.seed} in {result.seconds:.0f} s")
    ok = True
    for name, (got, want) in checks.items():
        mark = "ok" if got == want else "MISMATCH"
        ok &= got == want
        print(f"  {name:40s} {got:>12,} (expected {want:,}) {mark}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
