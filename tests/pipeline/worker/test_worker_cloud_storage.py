"""The worker through a real broker writing its datasets to ``gs://`` (fake-gcs-server) and
``abfs://`` (Azurite), both started by the project itself (``gcs_server``/``azure_server``),
and the tools reading them back: report, the UI's data loading, the crash clean-up on the
bucket; and write-once on each store (GCS ``ifGenerationMatch=0``, Azure ``If-None-Match``).
Compaction and retention on these stores: tests/pipeline/tools/test_maintenance_object_storage.py.
"""

from __future__ import annotations

import os
import uuid

import orjson
import pandas as pd
import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka_helpers import produce
from test_worker_object_storage import TRACE_COUNT, cli
from worker_process import run_worker, worker_env

from pipeline.sinks.dataset import RESULTS, SPANS, TRACES, data_files, dataset_roots, file_name
from pipeline.sinks.objects import write_bytes
from pipeline.sinks.storage import locate
from pipeline.tools.demo.samples import sample_traces


def read(root, columns=None) -> pd.DataFrame:
    return pd.read_parquet(root.path, filesystem=root.fs, columns=columns)


@pytest.fixture(scope="module", params=["gcs", "azure"])
def run(request, kafka_bootstrap, tmp_path_factory):
    """One worker run per store: TRACE_COUNT traces on 2 partitions -> <store>/<run>/parquet."""
    server = request.getfixturevalue(f"{request.param}_server")
    topic = f"{request.param}-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    traces = list(sample_traces(TRACE_COUNT, seed=41))
    for index, trace in enumerate(traces):
        trace["spans"] = [{"span_id": f"s{index}", "name": "agent"}]
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces])
    uri = server.uri(f"{topic}/parquet")
    work = tmp_path_factory.mktemp(f"{request.param}-worker")
    env = worker_env(kafka_bootstrap, topic, uri, state_dir=work / "state", **server.env())
    stderr = run_worker(env, cwd=work)
    saved = {name: os.environ.get(name) for name in server.env()}
    os.environ.update(server.env())  # this process reads the bucket too (module scope)
    yield {"topic": topic, "uri": uri, "env": env, "work": work, "traces": traces, "log": stderr}
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_worker_results_in_the_bucket_are_exact(run):
    roots = dataset_roots(run["uri"])
    assert roots[RESULTS].scheme in ("gs", "abfs")
    results = read(roots[RESULTS], ["trace_id", "evaluator"])
    evaluators = results["evaluator"].nunique()
    assert evaluators >= 3
    assert len(results) == TRACE_COUNT * evaluators  # nothing lost
    assert not results.duplicated(["trace_id", "evaluator"]).any()  # nothing doubled
    assert set(results["trace_id"]) == {t["trace_id"] for t in run["traces"]}
    stored = read(roots[TRACES], ["trace_id"])
    assert sorted(stored["trace_id"]) == sorted(t["trace_id"] for t in run["traces"])
    assert len(read(roots[SPANS], ["span_id"])) == TRACE_COUNT
    assert run["uri"] in run["log"]  # the worker names where it writes, as a URI
    assert [p.name for p in run["work"].iterdir()] == ["state"]  # nothing else on local disk


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
    more = list(sample_traces(10, seed=79))
    produce(kafka_bootstrap, run["topic"], [orjson.dumps(t) for t in more])
    stderr = run_worker(run["env"], cwd=run["work"])
    assert "removed 1 uncommitted Parquet file" in stderr
    assert not stray.exists()
    results = read(root, ["trace_id", "evaluator"])
    evaluators = results["evaluator"].nunique()
    assert len(results) == (TRACE_COUNT + 10) * evaluators
    assert not results.duplicated().any()


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
