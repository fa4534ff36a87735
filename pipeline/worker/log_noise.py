"""Log lines of faust's dependencies that describe normal operation of this worker."""

from __future__ import annotations

import logging


class ExpectedNoise(logging.Filter):
    """Drop (or downgrade) log lines that describe normal operation, not a problem:

    - aiokafka's 'coordinator not available' error while a new group is being created: the
      broker answers that until the group's coordinator is elected, and the client retries;
    - mode's 'Timer <commit timer> is overlapping' warning: the worker's 0.25 s tick
      runs the Parquet flush and the transaction commit, which may take longer; ticks never
      run concurrently (a tick that finds the commit lock taken returns at once);
    - aiokafka's fetcher ERROR 'Failed fetch offsets ... NotLeaderForPartitionError' on a new
      group's first start: the topics were just created and their leaders are still being
      elected; the fetcher refreshes metadata and retries. Shown at INFO, if INFO is on.
    """

    def __init__(self, commit_timer: str) -> None:
        super().__init__()
        self.commit_timer = commit_timer

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "GroupCoordinatorNotAvailableError" in message:
            return False
        if "NotLeaderForPartitionError" in message and record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return not ("is overlapping" in message and self.commit_timer in message)
