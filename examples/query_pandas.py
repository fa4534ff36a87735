"""Read the evalstream Parquet dataset with plain pandas (pyarrow engine), no evalstream code.

    python examples/query_pandas.py evalstream-data/parquet [--date 2026-11-25]

Prints the pass rate per evaluator per hour, trace latency percentiles, and the worst traces.
"""

from __future__ import annotations

import argparse

import pandas as pd

KEY = ["kafka_topic", "kafka_partition", "kafka_offset", "evaluator", "span_id"]


def load(parquet_dir: str, date: str | None = None) -> pd.DataFrame:
    # Hive partitions (date=/hour=) become columns; a filter on them skips whole directories.
    filters = [("date", "=", date)] if date else None
    frame = pd.read_parquet(parquet_dir, filters=filters)
    return frame.drop_duplicates(KEY)  # at-least-once: a copied replay may repeat rows


def pass_rate_per_hour(frame: pd.DataFrame) -> pd.DataFrame:
    judged = frame[frame["passed"].notna()]
    hour = judged["timestamp"].dt.floor("h").rename("hour")
    return (
        judged.groupby(["evaluator", hour])["passed"]
        .agg(evaluations="size", pass_rate=lambda s: s.astype(float).mean())
        .reset_index()
    )


def latency_percentiles(frame: pd.DataFrame) -> pd.Series:
    per_trace = frame.drop_duplicates("trace_id")["latency_ms"]
    return per_trace.quantile([0.5, 0.95, 0.99]).rename(lambda q: f"p{int(q * 100)}")


def worst_traces(frame: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    bad = frame[(frame["passed"] == False) | frame["error"].notna()]  # noqa: E712
    return (
        bad.groupby("trace_id")
        .agg(
            failed=("evaluator", "size"),
            min_score=("score", "min"),
            evaluators=("evaluator", lambda s: ",".join(sorted(s))),
        )
        .sort_values(["failed", "min_score"], ascending=[False, True])
        .head(n)
        .reset_index()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parquet_dir")
    parser.add_argument("--date", help="only this partition, YYYY-MM-DD")
    args = parser.parse_args()
    frame = load(args.parquet_dir, args.date)
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print("pass rate per evaluator per hour")
        print(pass_rate_per_hour(frame).to_string(index=False))
        print("\ntrace latency (ms)")
        print(latency_percentiles(frame).to_string())
        print("\nworst traces")
        print(worst_traces(frame).to_string(index=False))


if __name__ == "__main__":
    main()
