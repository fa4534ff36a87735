"""Sessions: traces grouped by session id into event-time session windows, scored by the
session evaluators when they close (docs/sessions.md).

``window`` holds the pure window rules, ``book`` the decisions over the table, ``turns`` the
compact turn form, ``scoring`` the evaluator run and output messages, ``router`` the re-keying
of scored traces, ``stage`` the faust agent and table, ``parquet`` the ``sessions`` dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.sessions.stage import SessionStage
    from pipeline.settings import Settings


def topic_partitions(settings: Settings, name: str) -> int:
    """Partitions of ``name`` (created with ``topic_partitions`` when missing): the session
    table must have as many as the session-turns topic it is co-partitioned with."""
    from pipeline.exceptions import PipelineError
    from pipeline.kafka.clients import ensure_topics, make_admin

    ensure_topics(settings, [name], settings.topic_partitions)
    admin = make_admin(settings)
    try:
        for description in admin.describe_topics([name]):
            if description.get("partitions"):
                return len(description["partitions"])
    finally:
        admin.close()
    raise PipelineError(f"topic {name!r} has no partitions")


def install_sessions(
    app: Any,
    settings: Settings,
    sender: Any,
    lock: Any,
    on_durable: Any,
    registry: Any = None,
    on_activity: Any = None,
    generation: Any = None,
) -> SessionStage:
    """Register the session stage's topic, table, agent and timer on the worker's app."""
    from evaluators.config import load_config
    from pipeline.sessions.scoring import SessionScorer
    from pipeline.sessions.stage import SessionStage
    from pipeline.sinks.encode import RecordEncoder

    encoder = RecordEncoder.create(settings)
    scorer = SessionScorer.create(
        load_config(settings.config), encoder, settings.window_seconds, settings.worker_id,
        registry,
    )  # fmt: skip
    partitions = topic_partitions(settings, settings.session_turns_topic)
    stage = SessionStage(app, settings, partitions, sender, scorer, encoder, lock, on_durable)
    stage.generation = generation  # a pipeline.kafka.generation.GenerationGuard, or None
    if on_activity is not None:
        stage.on_activity = on_activity
    return stage


__all__ = ["install_sessions", "topic_partitions"]
