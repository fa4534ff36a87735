"""Latency of `evalstream ui` over a 1,000,000-trace data directory.

    .venv/bin/python benchmarks/ui.py [--traces 1000000] [--data DIR] [--requests 40]
        [--baseline CHECKOUT] [--only TEXT]

Generates results + traces + spans (benchmarks/_ui_data.py: 7 results and 3 spans a trace, 48
hour partitions x 4 Kafka partitions, random trace ids; reused when DIR already holds them),
starts the real `evalstream ui` process on a free loopback port, and times HTTP requests
from this process, one at a time, with a keep-alive client: wall time from sending the request
to the last byte of the answer. Each endpoint gets ``--requests`` requests with varying
pages, filters and trace ids, after the UI's background warm-up (footers read, unfiltered and
per-evaluator failure counts, id indexes), whose duration is reported. A filter seen for the
first time counts its matches over every hour once: the "new free-text term" row measures
that cold cost. Prints a markdown table (pasted into docs/ui.md) and the load average before
and after the requests.

``--baseline CHECKOUT`` (another checkout of this repository, e.g. ``git worktree add
--detach /tmp/base main``) also starts that version's ``evalstream ui`` on the same data and
sends every request to both, alternately, so the before/after columns share the machine's
load of the same minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _ui_data import EVALUATORS, generate  # noqa: E402

from pipeline.kafka.broker import free_port  # noqa: E402


def _data(directory: Path, count: int) -> Path:
    results = directory / "parquet"
    marker = directory / f"generated-{count}"
    if marker.exists():
        print(f"reusing {directory}")
        return results
    started = time.perf_counter()
    generate(results, count)
    marker.touch()
    files = sum(1 for _ in directory.rglob("*.parquet"))
    size = sum(p.stat().st_size for p in directory.rglob("*.parquet")) / 1e6
    print(f"generated {count:,} traces in {time.perf_counter() - started:.0f} s"
          f" ({files} files, {size:,.0f} MB)")  # fmt: skip
    return results


def _start(results: Path, port: int, checkout: Path) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    server = subprocess.Popen(  # -m from the checkout: its own pipeline package is imported
        [sys.executable, "-m", "pipeline.cli", "ui", "--data-dir", str(results),
         "--port", str(port)], cwd=checkout, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.kill()
    raise SystemExit("the UI did not answer /health within 30 s")


def _wait_warm(port: int) -> float:
    """Seconds until the UI's background warm-up is done (``/health`` says so)."""
    started = time.perf_counter()
    while time.perf_counter() - started < 600:
        if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["warmed_up"]:
            break
        time.sleep(0.2)
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc; 10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(client: httpx.Client, path: str, pid: int) -> tuple[float, float]:
    """(wall ms, server CPU ms) of one request: the CPU time is what the request costs
    whatever else the machine is running."""
    before = _cpu_seconds(pid)
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
    return elapsed, (_cpu_seconds(pid) - before) * 1000


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def _cases(ids: list[str], n: int, rng: random.Random) -> dict[str, list[str]]:
    page = lambda: rng.randrange(0, 100) * 50  # noqa: E731
    return {
        "list, newest first (API)": [f"/api/traces?offset={page()}" for _ in range(n)],
        "list, newest first (HTML page)": [f"/traces?offset={page()}" for _ in range(n)],
        "filter: evaluator failed": [
            f"/api/traces?evaluator={EVALUATORS[i % len(EVALUATORS)]}&passed=false"
            f"&offset={page()}" for i in range(n)],
        "filter: app + status + model": [
            f"/api/traces?app={rng.choice(['chat', 'search'])}&status=ERROR"
            f"&model={rng.choice(['gpt-4o', 'gpt-4o-mini'])}&offset={rng.randrange(0, 5) * 50}"
            for _ in range(n)],
        "filter: evaluator failed, app, last 6 h": [
            f"/api/traces?evaluator=correctness&passed=false&app=chat"
            f"&since=2026-11-27T04:00:00Z&offset={rng.randrange(0, 10) * 50}" for _ in range(n)],
        "filter: session": [f"/api/traces?session=session-{rng.randrange(50_000)}"
                            for _ in range(n)],
        "filter: free text, 3 terms": [
            f"/api/traces?q={rng.choice(['refund', 'Python', 'haiku'])}"
            f"&offset={rng.randrange(0, 20) * 50}" for _ in range(n)],
        "filter: a new free-text term each time (cold count)": [
            f"/api/traces?q=term{i}x" for i in range(n)],
        "sort: latency (whole dataset)": [f"/api/traces?sort=latency&offset={page()}"
                                          for _ in range(n)],
        "sort: cost, ascending (whole dataset)": [
            f"/api/traces?sort=cost&order=asc&offset={page()}" for _ in range(n)],
        "sort: latency, app (HTML page)": [
            f"/traces?sort=latency&app={rng.choice(['chat', 'search'])}&offset={page()}"
            for _ in range(n)],
        "detail (API)": [f"/api/traces/{rng.choice(ids)}" for _ in range(n)],
        "detail (HTML page)": [f"/traces/{rng.choice(ids)}" for _ in range(n)],
        "overview page (totals and series computed per view)": ["/" for _ in range(max(n // 6, 3))],
        "evaluator page (remembered per hour)": [f"/evaluators/{EVALUATORS[i % len(EVALUATORS)]}"
                                        for i in range(max(n // 6, 3))],
    }  # fmt: skip


def _row(name: str, measured: dict[str, list[tuple[float, float]]]) -> str:
    cells = [name, str(len(next(iter(measured.values()))))]
    for label in measured:
        wall = [m[0] for m in measured[label]]
        cells.append(f"{statistics.median(wall):,.0f} / {_p95(wall):,.0f} / {max(wall):,.0f}")
    for label in measured:
        cpu = [m[1] for m in measured[label]]
        cells.append(f"{statistics.median(cpu):,.0f} / {_p95(cpu):,.0f}")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None, help="Data directory to (re)use.")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--only", default=None, help="Measure only the endpoints whose name contains this text."
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="Another checkout whose UI is measured alongside, as 'before'.",
    )
    args = parser.parse_args()
    directory = args.data or Path(tempfile.mkdtemp(prefix="evalstream-ui-bench-"))
    results = _data(directory, args.traces)
    ids = pq.read_table(directory / "traces", columns=["trace_id"])["trace_id"].to_pylist()
    rng = random.Random(5)
    checkouts = {"this": ROOT} if args.baseline is None else {
        "before": args.baseline.resolve(), "after": ROOT}  # fmt: skip
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    clients: dict[str, httpx.Client] = {}
    try:
        for label, checkout in checkouts.items():
            port = free_port()
            server, startup = _start(results, port, checkout)
            servers[label] = (server, port)
            print(f"{label}: start to /health {startup:.1f} s", flush=True)
        for label, (_, port) in servers.items():
            print(f"{label}: background warm-up done {_wait_warm(port):.1f} s later", flush=True)
        clients |= {label: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
                    for label, (_, port) in servers.items()}  # fmt: skip
        labels = list(servers)
        print(f"\nload average before the requests: {os.getloadavg()} on {os.cpu_count()} cores")
        print(f"\n| endpoint | requests | {' | '.join(f'{x} p50 / p95 / max ms' for x in labels)}"
              f" | {' | '.join(f'{x} server CPU p50 / p95 ms' for x in labels)} |"
              f"\n|{'---|' * (2 + 2 * len(labels))}")  # fmt: skip
        for name, paths in _cases(ids, args.requests, rng).items():
            if args.only is not None and args.only not in name:
                continue
            measured: dict[str, list[tuple[float, float]]] = {label: [] for label in labels}
            for i, path in enumerate(paths):  # alternate which version goes first
                for label in labels if i % 2 == 0 else labels[::-1]:
                    measured[label].append(_timed(clients[label], path, servers[label][0].pid))
            print(_row(name, measured), flush=True)
        print(f"\nload average during the run: {os.getloadavg()} on {os.cpu_count()} cores")
        for label, (server, _) in servers.items():
            print(f"{label}: resident memory {_rss_mb(server.pid):,.0f} MB")
    finally:
        for client in clients.values():
            client.close()
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
