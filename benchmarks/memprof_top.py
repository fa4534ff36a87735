"""Group the tracemalloc snapshots a ``throughput.py --memprof DIR --memprof-frames N`` run
dumped: the top allocation sites of each, by file, line or traceback, and what grew between two.

    .venv/bin/python benchmarks/memprof_top.py DIR/<run>/<pid>-NNN.snapshot [--top 25]
        [--by filename|lineno|traceback] [--base DIR/<run>/<pid>-MMM.snapshot]
"""

from __future__ import annotations

import argparse
import tracemalloc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("snapshot")
    parser.add_argument("--base", help="an earlier snapshot: show what grew since")
    parser.add_argument("--by", choices=("filename", "lineno", "traceback"), default="lineno")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    snap = tracemalloc.Snapshot.load(args.snapshot).filter_traces(ignore)
    mb = 2**20
    total = sum(t.size for t in snap.traces)
    print(f"{args.snapshot}: {total / mb:.1f} MB in {len(snap.traces):,} blocks")
    if args.base:
        base = tracemalloc.Snapshot.load(args.base).filter_traces(ignore)
        for stat in snap.compare_to(base, args.by)[: args.top]:
            now = stat.size / mb
            print(f"{stat.size_diff / mb:+8.2f} MB (now {now:7.2f}) {stat.count_diff:+9d}")
            print("\n".join(f"      {line}" for line in stat.traceback.format()))
        return 0
    for stat in snap.statistics(args.by)[: args.top]:
        print(f"{stat.size / mb:8.2f} MB {stat.count:9d} blocks")
        print("\n".join(f"      {line}" for line in stat.traceback.format()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
