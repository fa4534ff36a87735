"""faust's ``<consumer group>-data`` folder goes under the state directory, never into the
directory the worker was started from (issue 16, item 14a)."""

from __future__ import annotations

from pathlib import Path

import orjson
from kafka_helpers import produce
from worker_process import run_worker, worker_env

from pipeline.settings import load_settings
from pipeline.tools.demo.samples import sample_traces


def test_state_dir_setting_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("EVALSTREAM_CONSUMER_GROUP", "g1")
    default = tmp_path / ".cache" / "evalstream" / "worker-state" / "g1-data"
    assert load_settings().faust_data_dir == default
    monkeypatch.setenv("EVALSTREAM_STATE_DIR", str(tmp_path / "state"))
    assert load_settings().faust_data_dir == tmp_path / "state" / "g1-data"


def test_worker_leaves_its_start_directory_clean(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=1)
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(5, seed=4)])
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    env = worker_env(kafka_bootstrap, topic, tmp_path / "pq")
    del env["EVALSTREAM_STATE_DIR"]
    env["HOME"] = str(home)
    stderr = run_worker(env, cwd=project)
    assert "consumed 5, scored 5" in stderr
    assert list(project.iterdir()) == []
    state = home / ".cache" / "evalstream" / "worker-state" / f"{topic}-workers-data"
    assert state.is_dir()
    assert Path(env["EVALSTREAM_PARQUET_DIR"]).is_dir()
