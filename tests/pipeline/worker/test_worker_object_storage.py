"""The worker through a real broker writing its datasets to each object store the project
starts itself: ``s3://`` (the ``s3_server`` fixture: S3Proxy), ``gs://`` (fake-gcs-server) and
``abfs://`` (Azurite); every tool reading them back from the bucket (report, the UI's data
loading; on S3 also ``trace show``, backfill and compaction); the crash clean-up on the bucket;
write-once on GCS (``ifGenerationMatch=0``) and Azure (``If-None-Match``); Delta tables on
``abfs://``; and the one-line errors of a bad URI or an unreachable endpoint.
Compaction and retention on GCS and Azure: tests/pipeline/tools/test_maintenance_object_storage.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka_helpers import produce
from worker_process import ROOT, run_worker, worker_env

from pipeline.kafka.broker import free_port
from pipeline.sinks.dataset import RESULTS, SPANS, TRACES, data_files, dataset_roots, file_name
from pipeline.sinks.objects import read_table, write_bytes, write_parquet
from pipeline.sinks.storage import locate
from pipeline.tools.demo.samples import sample_traces

TRACE_COUNT = 120


def cli(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def read(root, columns=None) -> pd.DataFrame:
    return pd.read_parquet(root.path, filesystem=root.fs, columns=columns)


ON_S3 = pytest.mark.parametrize("run", ["s3"], indirect=True)


@pytest.fixture(scope="module", params=["s3", "gcs", "azure"])
def run(request, kafka_bootstrap, tmp_path_factory):
    """One worker run per store: TRACE_COUNT traces on 2 partitions -> <store>/<run>/parquet."""
    server = request.getfixturevalue(f"{request.param}_server")
    topic = f"{request.param}-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    traces = list(sample_traces(TRACE_COUNT, seed=31))
    for index, trace in enumerate(traces):
        trace["spans"] = [{"span_id": f"s{index}", "name": "agent"}]
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces])
    uri = server.uri(f"{topic}/parquet")
    work = tmp_path_factory.mktemp(f"{request.param}-worker")
    env = worker_env(kafka_bootstrap, topic, uri, state_dir=work / "state", **server.env())
    stderr = run_worker(env, cwd=work)
    with pytest.MonkeyPatch.context() as patch:  # this process reads the bucket too
        for name, value in server.env().items():
            patch.setenv(name, value)
        yield {"topic": topic, "uri": uri, "env": env, "work": work, "traces": traces,
               "log": stderr, "store": request.param}  # fmt: skip


def test_worker_results_in_the_bucket_are_exact(run):
    roots = dataset_roots(run["uri"])
    assert roots[RESULTS].scheme == {"s3": "s3", "gcs": "gs", "azure": "abfs"}[run["store"]]
    results = read(roots[RESULTS], ["trace_id", "evaluator", "kafka_topic", "kafka_offset"])
    evaluators = results["evaluator"].nunique()
    assert evaluators >= 3
    assert len(results) == TRACE_COUNT * evaluators  # nothing lost
    assert not results.duplicated(["trace_id", "evaluator"]).any()  # nothing doubled
    assert set(results["trace_id"]) == {t["trace_id"] for t in run["traces"]}
    stored = read(roots[TRACES], ["trace_id"])
    assert sorted(stored["trace_id"]) == sorted(t["trace_id"] for t in run["traces"])
    assert len(read(roots[SPANS], ["span_id"])) == TRACE_COUNT
    assert run["uri"] in run["log"]  # the worker names where it writes, as a URI
    assert [p.name for p in run["work"].iterdir()] == ["state"]  # no local folder named s3:


@pytest.mark.parametrize("run", ["gcs", "azure"], indirect=True)
def test_write_once_uses_the_stores_conditional_create(run):
    """A second write of an existing key is refused by the store itself (no replace)."""
    root = locate(run["uri"])
    target = root / "date=2026-01-01" / "hour=00" / f"once-{uuid.uuid4().hex[:6]}.bin"
    assert write_bytes(target, b"first", replace=False)
    assert not write_bytes(target, b"second", replace=False)
    with root.fs.open_input_stream(target.path) as handle:
        assert handle.read() == b"first"
    assert write_bytes(target, b"third", replace=True)
    with root.fs.open_input_stream(target.path) as handle:
        assert handle.read() == b"third"
    assert target.delete() and not target.exists()


def test_report_reads_the_bucket(run, tmp_path):
    out = tmp_path / "report.html"
    done = cli("report", run["uri"], "-o", str(out), env=run["env"])
    assert done.returncode == 0, done.stderr
    assert run["uri"] in out.read_text() and "correctness" in out.read_text()


@ON_S3
def test_trace_show_reads_the_bucket(run):
    trace = run["traces"][7]
    done = cli(
        "trace", "show", trace["trace_id"], "--data-dir", run["uri"], "--json", env=run["env"]
    )
    assert done.returncode == 0, done.stderr
    detail = json.loads(done.stdout)
    assert detail["trace_id"] == trace["trace_id"]
    assert detail["inputs"] == trace["inputs"] and detail["outputs"] == trace["outputs"]
    assert [s["span_id"] for s in detail["spans"]] == ["s7"]


def test_ui_data_loading_reads_the_bucket(run):
    from starlette.testclient import TestClient

    from pipeline.tools.ui.app import create_app
    from pipeline.tools.ui.layout import Datasets
    from pipeline.tools.ui.store import Store

    store = Store(Datasets.beside(locate(run["uri"])), listing_ttl=0)
    with TestClient(create_app(store)) as client:
        health = client.get("/health").json()
        assert health["datasets"] == {"results": True, "traces": True, "spans": True}
        assert client.get("/api/traces?limit=500").json()["total"] == TRACE_COUNT
        trace_id = run["traces"][3]["trace_id"]
        assert client.get(f"/api/traces/{trace_id}").json()["trace_id"] == trace_id


@ON_S3
def test_backfill_from_the_topic_into_the_bucket_twice_is_idempotent(run):
    target = run["uri"].replace("/parquet", "/backfill")
    args = ["backfill", "--from-topic", run["topic"], "--parquet-dir", target]
    args += ["--evaluators", "latency,error"]
    for _ in range(2):
        done = cli(*args, env=run["env"])
        assert done.returncode == 0, done.stderr
        frame = read(locate(target), ["trace_id", "evaluator"])
        assert len(frame) == TRACE_COUNT * 2 and not frame.duplicated().any()
    assert "replaced 0 older files" in done.stdout  # same chunks, same keys: overwritten


def test_takeover_deletes_uncommitted_objects_in_the_bucket(run, kafka_bootstrap):
    """A crashed worker's object past the committed offset is deleted when the next worker
    takes the partition over, before the replay writes its own: results stay exact."""
    scored = f"{run['topic']}.scored"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    group = f"{run['topic']}-workers"
    committed = admin.list_group_offsets(group)[group]
    admin.close()
    offset = next(
        v.offset for tp, v in committed.items() if tp.topic == scored and not tp.partition
    )
    root = locate(run["uri"])
    existing = data_files(root, scored, 0)[0]
    stray = existing.path.parent / file_name(scored, 0, offset, offset + 40)
    with root.fs.open_input_file(existing.path.path) as handle:  # rows that would double
        assert write_bytes(stray, handle.read(), replace=False)
    more = list(sample_traces(10, seed=77))
    produce(kafka_bootstrap, run["topic"], [orjson.dumps(t) for t in more])
    stderr = run_worker(run["env"], cwd=run["work"])
    assert "removed 1 uncommitted Parquet file" in stderr
    assert not stray.exists()
    results = read(root, ["trace_id", "evaluator"])
    evaluators = results["evaluator"].nunique()
    missing = {t["trace_id"] for t in more} - set(results["trace_id"])
    assert len(results) == (TRACE_COUNT + 10) * evaluators, (
        f"{len(missing)} of the 10 new traces have no results; files: "
        f"{sorted(f.path.name for p in (0, 1) for f in data_files(root, scored, p))}; "
        f"worker log:\n{stderr[-6000:]}"
    )
    assert not results.duplicated().any()


def in_process(args: list[str], capsys) -> tuple[int, list[str]]:
    """``evalstream ARGS`` in this process (each CLI start costs seconds on a busy machine)."""
    from pipeline.cli.main import main

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["evalstream", *args])
        with pytest.raises(SystemExit) as exited:
            main()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return exited.value.code, lines


@ON_S3
def test_bad_uris_and_an_unreachable_endpoint_are_one_line(run, tmp_path, monkeypatch, capsys):
    dead = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    done = cli("worker", "--stop-when-idle", "1", env={**run["env"], **dead}, cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "error: cannot reach s3://evalstream: " in lines[0], done.stderr
    assert list(tmp_path.iterdir()) == []  # no local folder named s3: (or anything else)

    monkeypatch.chdir(tmp_path)  # the other cases in this process: each CLI start costs seconds
    for root, message in [("s3://", "names no bucket"), ("s3:/bucket/x", "missing a slash")]:
        monkeypatch.setenv("EVALSTREAM_PARQUET_DIR", root)
        code, lines = in_process(["worker", "--stop-when-idle", "1"], capsys)
        assert code == 2 and len(lines) == 1 and message in lines[0], lines
    monkeypatch.setenv("EVALSTREAM_PARQUET_DIR", run["uri"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead["AWS_ENDPOINT_URL"])
    for args in (
        ["worker", "--stop-when-idle", "1"],
        ["report", run["uri"]],
        ["compact", "--parquet-dir", run["uri"]],
        ["retention", "--older-than", "1d", "--parquet-dir", run["uri"]],
        ["trace", "show", "x", "--data-dir", run["uri"]],
        ["backfill", "--from-files", __file__, "--parquet-dir", run["uri"]],
    ):
        code, lines = in_process(args, capsys)
        assert code == 2 and len(lines) == 1 and "cannot reach s3://" in lines[0], (args, lines)
    monkeypatch.setenv("AWS_ENDPOINT_URL", run["env"]["AWS_ENDPOINT_URL"])
    code, lines = in_process(["report", "s3://no-such-bucket/x"], capsys)
    assert code == 2 and lines == ["error: s3://no-such-bucket/x: bucket 'no-such-bucket' does"
                                   " not exist"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@ON_S3
def test_compact_heals_a_zombies_overlapping_object_in_the_bucket(run):
    """The worker's results of scored partition 0, laid out as an owner that flushed twice
    beside a zombie cut at other offsets (same first offset, a last inside the owner's second
    object, written later, its rows told apart by eval_latency_ms = -1), in a fresh prefix of
    the bucket: `evalstream compact` removes the owner object inside the zombie's range,
    heals the overlap left into one object, says how many duplicate rows it dropped, and
    every (offset, evaluator) of the worker's output is there exactly once."""
    scored = f"{run['topic']}.scored"
    source = locate(run["uri"])
    files = data_files(source, scored, 0)
    hour = files[0].path.parent
    assert all(f.path.parent == hour for f in files)  # the sample traces span one hour
    rows = pa.concat_tables([read_table(f.path) for f in files]).sort_by("kafka_offset")
    offsets = sorted(set(rows.column("kafka_offset").to_pylist()))
    first, last = min(f.first for f in files), max(f.last for f in files)
    cut, zombie_last = first + (last - first) // 2, first + 3 * (last - first) // 4
    half, three_quarters = offsets[len(offsets) // 2], offsets[3 * len(offsets) // 4]

    def where(table, high, low=-1):
        column = table.column("kafka_offset")
        return table.filter(pc.and_(pc.greater(column, low), pc.less_equal(column, high)))

    target = locate(run["uri"].replace("/parquet", "-heal/parquet"))
    place = target / source.relative(hour)
    assert write_parquet(place / file_name(scored, 0, first, cut), where(rows, half), replace=False)
    second = where(rows, offsets[-1], low=half)
    assert write_parquet(place / file_name(scored, 0, cut + 1, last), second, replace=False)
    time.sleep(2.5)  # the store dates objects to the second: the zombie's is the later write
    zombie = where(rows, three_quarters)
    latency = zombie.schema.get_field_index("eval_latency_ms")
    zombie = zombie.set_column(
        latency, "eval_latency_ms", pa.array([-1.0] * len(zombie), pa.float64())
    )
    assert write_parquet(place / file_name(scored, 0, first, zombie_last), zombie, replace=False)
    time.sleep(2.5)
    tail = rows.slice(0, 1)  # the owner's newest flush, an hour later: the partition's tail
    stamp = tail.schema.get_field_index("timestamp")
    tail = tail.set_column(
        stamp, tail.schema.field(stamp),
        pa.array([datetime(2026, 11, 25, 13, 5, tzinfo=UTC)], tail.schema.field(stamp).type),
    )  # fmt: skip
    tail_at = target / "date=2026-11-25" / "hour=13" / file_name(scored, 0, last + 1, last + 1)
    assert write_parquet(tail_at, tail, replace=False)
    duplicates = len(where(rows, three_quarters, low=half))
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    args = ["compact", "--parquet-dir", str(target), "--min-age", "1m", "--tail-window", "1s"]
    done = cli(*args, "--now", later, env=run["env"])
    assert done.returncode == 0, done.stderr
    assert "(its rows are in a merged file)" in done.stdout  # the owner's first object
    assert f"healed 2 files with overlapping offsets -> {target}" in done.stdout.replace("\n", "")
    assert f"dropped {duplicates:,} duplicate rows" in done.stdout
    assert duplicates > 0
    healed = data_files(target, scored, 0)
    assert sorted(d.path.name for d in healed) == [
        file_name(scored, 0, first, last), tail_at.name
    ]  # fmt: skip
    frame = read(place / file_name(scored, 0, first, last))
    key = ["kafka_topic", "kafka_partition", "kafka_offset", "evaluator"]
    assert not frame.duplicated(key).any()
    original = rows.select(key).to_pandas()
    assert len(frame) == len(original)
    assert set(map(tuple, frame[key].to_numpy().tolist())) == set(
        map(tuple, original.to_numpy().tolist())
    )  # every row key of the worker's output, once
    from_zombie = frame[frame.kafka_offset <= three_quarters]
    assert (from_zombie.eval_latency_ms == -1.0).all()  # the later write's copy


def test_worker_writes_delta_tables_on_abfs(kafka_bootstrap, azure_server, tmp_path, monkeypatch):
    """EVALSTREAM_TABLE_FORMAT=delta on Azurite: delta-rs gets the account, key and endpoint
    from the same settings (Location.storage_options); read back without our reader."""
    from deltalake import DeltaTable

    topic = f"delta-abfs-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    traces = list(sample_traces(40, seed=43))
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces])
    uri = azure_server.uri(f"{topic}/parquet")
    env = worker_env(kafka_bootstrap, topic, uri, state_dir=tmp_path / "state",
                     EVALSTREAM_TABLE_FORMAT="delta", **azure_server.env())  # fmt: skip
    run_worker(env, cwd=tmp_path)
    for name, value in azure_server.env().items():
        monkeypatch.setenv(name, value)
    roots = dataset_roots(uri)
    options = roots[RESULTS].storage_options()
    assert options["azure_endpoint"].startswith("http://127.0.0.1:")
    results = DeltaTable(uri, storage_options=options).to_pandas()
    evaluators = results["evaluator"].nunique()
    assert (
        len(results) == 40 * evaluators and not results.duplicated(["trace_id", "evaluator"]).any()
    )
    traces_table = DeltaTable(roots[TRACES].uri, storage_options=options).to_pandas()
    assert sorted(traces_table["trace_id"]) == sorted(t["trace_id"] for t in traces)
    out = tmp_path / "report.html"
    done = cli("report", uri, "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
