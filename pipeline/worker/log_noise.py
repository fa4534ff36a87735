"""Log lines of faust's dependencies that describe normal operation of this worker."""

from __future__ import annotations

import logging


class ExpectedNoise(logging.Filter):
    """Drop two log lines that describe normal operation, not a problem:

    - aiokafka's 'coordinator not available' error while a new group is being created: the
      broker answers that until the group's coordinator is elected, and the client retries;
    - mode's 'Timer <commit timer> is overlapping' warning: the worker's 0.25 s tick
      runs the Parquet flush and the transaction commit, which may take longer; ticks never
      run concurrently (a tick that finds the commit lock taken returns at once).
    """

    def __init__(self, commit_timer: str) -> None:
        super().__init__()
        self.commit_timer = commit_timer

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "GroupCoordinatorNotAvailableError" in message:
            return False
        return not ("is overlapping" in message and self.commit_timer in message)
