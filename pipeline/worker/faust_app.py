"""The worker's faust app: its configuration, in one place (agents and timers are added by
``worker/app.py``).

faust's own commit triggers are disabled (``NEVER``): ``worker/checkpoint.py`` commits, with
the transactions, on the worker's timer. Tables live in memory with changelogs (``memory://``).
"""

from __future__ import annotations

import faust

from pipeline.kafka.security import faust_credentials
from pipeline.settings import Settings

NEVER = 10**9  # seconds / acks: faust's own commit triggers are disabled


def faust_app(s: Settings) -> faust.App:
    """A faust app for the worker's consumer group, configured from the settings."""
    s.faust_data_dir.parent.mkdir(parents=True, exist_ok=True)  # faust makes one level
    app = faust.App(
        s.consumer_group,
        broker=[f"kafka://{server}" for server in s.bootstrap_list],
        broker_credentials=faust_credentials(s),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        store="memory://",
        datadir=str(s.faust_data_dir),
        topic_partitions=s.topic_partitions,
        processing_guarantee=s.processing_guarantee,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_request_size=s.max_message_bytes,
        stream_buffer_maxsize=max(4096, 2 * s.batch_size),
        broker_commit_interval=NEVER,
        broker_session_timeout=s.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, s.session_timeout_seconds / 3),
        broker_commit_every=NEVER,
        loghandlers=[],
    )
    return app
