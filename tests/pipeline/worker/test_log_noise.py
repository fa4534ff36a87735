"""A new group's first start logs no ERROR for the transient leader election of topics the
worker just created (issue 16, item 13): aiokafka's fetcher logs 'Failed fetch offsets ...
NotLeaderForPartitionError' at ERROR and retries; the worker shows it at INFO or not at all."""

from __future__ import annotations

import logging

from pipeline.worker.app import COMMIT_TIMER
from pipeline.worker.log_noise import ExpectedNoise

FETCHER = "aiokafka.consumer.fetcher"
NOT_LEADER = "Failed fetch offsets from %s: %s"


def fetcher_error(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(FETCHER, logging.ERROR, __file__, 1, message, args, None)


def test_not_leader_for_partition_is_downgraded_to_info():
    logger = logging.getLogger(FETCHER)
    noise = ExpectedNoise(COMMIT_TIMER)
    record = fetcher_error(NOT_LEADER, 1, "[Error 6] NotLeaderForPartitionError")
    old_level = logger.level
    try:
        logger.setLevel(logging.WARNING)
        assert not noise.filter(record)
        logger.setLevel(logging.INFO)
        record = fetcher_error(NOT_LEADER, 1, "[Error 6] NotLeaderForPartitionError")
        assert noise.filter(record) and record.levelname == "INFO"
    finally:
        logger.setLevel(old_level)
    other = fetcher_error(NOT_LEADER, 1, "[Error 7] RequestTimedOutError")
    assert noise.filter(other) and other.levelno == logging.ERROR
