"""Run one worker process: topics ensured, log noise filtered, metrics served, faust started.

The process entry of ``evalstream worker`` (``pipeline.cli.stream``); what the process does
with each batch and each commit is :class:`~pipeline.worker.app.TraceWorker`.
"""

from __future__ import annotations

import logging

from pipeline import prometheus
from pipeline.evaluate.scorer import Scorer
from pipeline.kafka.log_repeats import fold_repeated_kafka_lines
from pipeline.kafka.metadata_backoff import install_metadata_backoff
from pipeline.settings import Settings
from pipeline.worker import faust_compat
from pipeline.worker.app import COMMIT_TIMER, TraceWorker
from pipeline.worker.log_noise import ExpectedNoise
from pipeline.worker.runtime import preload_lazy_imports, tune_garbage_collector
from pipeline.worker.stages import ScoreStage


def _ensure_worker_topics(settings: Settings, topics: list[str]) -> Settings:
    """Create the missing topics; the settings to run with.

    Parquet rows from memory send each scored trace to its source's partition
    (``worker/parquet_memory.py``): a missing scored topic gets the input topic's partition
    count, and with existing topics of different counts the worker reads the scored topic
    back instead (every worker of the group sees the same counts, so all choose alike).
    """
    from pipeline.kafka.clients import ensure_topics, partition_counts

    memory = settings.parquet_from == "memory" and settings.processing_guarantee == "exactly_once"
    if not memory:
        ensure_topics(settings, topics, settings.topic_partitions)
        return settings
    ensure_topics(settings, [settings.input_topic], settings.topic_partitions)
    counts = partition_counts(settings, [settings.input_topic])
    inputs = counts.get(settings.input_topic, settings.topic_partitions)
    ensure_topics(settings, [settings.scored_topic], inputs)
    ensure_topics(settings, topics, settings.topic_partitions)
    scored = partition_counts(settings, [settings.scored_topic]).get(settings.scored_topic)
    if scored == inputs:
        return settings
    logging.getLogger(__name__).warning(
        "EVALSTREAM_PARQUET_FROM=memory needs as many partitions in %s (%s) as in %s (%d):"
        " reading the scored topic back for Parquet instead",
        settings.scored_topic,
        scored,
        settings.input_topic,
        inputs,
    )
    return settings.model_copy(update={"parquet_from": "topic"})


def run_worker(
    settings: Settings,
    scorer: Scorer,
    stop_when_idle: float | None = None,
    worker_type: type[TraceWorker] = TraceWorker,
) -> ScoreStage:
    """Run until stopped (SIGTERM/SIGINT) or idle; returns the scoring counters.

    ``worker_type``: a ``TraceWorker`` subclass (tests inject faults through one)."""
    # Before faust subscribes: a topic created after the subscription would not be assigned
    # until the next metadata refresh (minutes).
    topics = [settings.input_topic, settings.scored_topic, settings.metrics_topic]
    topics += [settings.dlq_topic] + ([settings.spans_topic] if settings.assembler_enabled else [])
    if settings.sessions_enabled:
        topics += [settings.session_turns_topic, settings.scored_sessions_topic]
    settings = _ensure_worker_topics(settings, topics)
    worker = worker_type(settings, scorer, stop_when_idle)
    for name in ("aiokafka.consumer.group_coordinator", "aiokafka.consumer.fetcher", "mode.timers"):
        logging.getLogger(name).addFilter(ExpectedNoise(COMMIT_TIMER))
    fold_repeated_kafka_lines(settings.outage_log_interval)
    install_metadata_backoff()
    prometheus.serve_metrics(settings.metrics_port)
    faust_worker = faust_compat.DrainingWorker(
        worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    )
    faust_worker.drain = worker.finish
    faust_worker.is_stopping = lambda: worker._stopping
    preload_lazy_imports()
    tune_garbage_collector()  # last: what start-up loaded is frozen out of every collection
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        scorer.close()
        if worker.sessions is not None:
            worker.sessions.close()
    return worker.score
