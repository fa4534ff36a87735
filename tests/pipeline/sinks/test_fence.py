"""Owner epochs of the Parquet sink (pipeline/sinks/fence.py): one owner per epoch on every
store, and a zombie's late flush, cut at other offsets than its successor's, withdrawn
instead of doubling rows; through the real broker and a real worker."""

from __future__ import annotations

import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from pipeline.sinks.dataset import data_files
from pipeline.sinks.fence import claim, epochs, superseded
from pipeline.sinks.parquet import ParquetSink
from pipeline.sinks.storage import locate
from pipeline.tools.demo.samples import sample_traces

TRACES = 30


def test_each_epoch_has_one_owner_and_old_claims_are_pruned(store_root):
    root = locate(store_root)
    assert [claim(root, "t.scored", 0) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert epochs(root, "t.scored", 0) == [3, 4, 5]  # KEEP_EPOCHS
    assert claim(root, "t.scored", 1) == 1  # per partition
    assert superseded(root, "t.scored", 0, 4) and not superseded(root, "t.scored", 0, 5)


def test_a_zombies_late_flush_is_withdrawn_not_doubled(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=1)
    scored = f"{topic}.scored"
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(TRACES, seed=5)])
    root = tmp_path / "data" / "parquet"
    zombie = ParquetSink(root)
    assert zombie.claim(scored, [0]) == {0: 1}  # it owned the partition once

    # The new owner, a real worker: claims epoch 2, cleans up, writes and commits everything.
    run_worker(worker_env(kafka_bootstrap, topic, root), cwd=tmp_path)
    owner = data_files(root, scored, 0)
    assert owner and min(d.epoch for d in owner) >= 2  # claimed after the zombie's
    results = pd.read_parquet(root)
    evaluators = results["evaluator"].nunique()
    assert len(results) == TRACES * evaluators and not results.duplicated().any()

    # The zombie wakes up with a buffer cut at other offsets than any of the owner's files.
    records = consume_all(kafka_bootstrap, scored, isolation_level="read_committed")[:7]
    for record in records:
        zombie.add(orjson.loads(record.value), scored, 0, record.offset)
    assert zombie.flush() == [] and zombie.files_fenced >= 1
    assert sorted(d.path for d in data_files(root, scored, 0)) == sorted(d.path for d in owner)
    assert (scored, 0) in zombie.fenced
    zombie.add(orjson.loads(records[0].value), scored, 0, records[0].offset)
    assert zombie.buffered_rows == 0  # a withdrawn partition is not written again
    pd.testing.assert_frame_equal(pd.read_parquet(root), results)

    # Without the fence the same late flush doubles those rows (what the fence prevents).
    unfenced = ParquetSink(root)
    for record in records:
        unfenced.add(orjson.loads(record.value), scored, 0, record.offset)
    late = unfenced.flush()
    doubled = pd.read_parquet(root)
    assert doubled.duplicated(["trace_id", "evaluator"]).sum() == len(records) * evaluators
    assert all(path.delete() for path in late)
