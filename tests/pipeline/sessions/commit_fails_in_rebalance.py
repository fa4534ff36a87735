"""``evalstream worker`` whose commit in the first rebalance fails (run as a script, configured
by the same ``EVALSTREAM_*`` variables).

The worker commits as usual until its session stage has sent scored sessions (with their
changelog writes and session aggregates, in the open Kafka transactions); from then on it
commits nothing (as with an endless commit interval), so those steps stay open. (Holding
commits from the first step on, a first step with only first turns, nothing to score, held
the scored traces' commit too: the stage never saw the second turns and the test waited for
scored sessions in vain, 1 run of 3.) The commit in the
revoke hook of the next rebalance then raises, and the worker's own failure path runs
against the real broker: it aborts the transactions, undoes the session steps in memory and
rewinds its offsets. Every later commit is the worker's own. Kafka is not mocked: only the
worker's decision to commit is.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from evaluators import discover, load_config
from pipeline.evaluate.scorer import Scorer
from pipeline.settings import load_settings
from pipeline.worker.app import TraceWorker
from pipeline.worker.run import run_worker


class CommitFailsInFirstRebalance(TraceWorker):
    failed = False
    in_revoke_hook = False

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        self.in_revoke_hook = True
        try:
            await super()._on_revoked(sender, revoked, **kwargs)
        finally:
            self.in_revoke_hook = False

    async def _commit(self) -> None:
        steps = len(self.sessions._sent_steps)
        if self.failed or not steps or not self.sessions.scored:
            await super()._commit()
            return
        if not self.in_revoke_hook:
            return  # held: the session steps stay in open transactions
        self.failed = True
        print(f"injected commit failure ({steps} session steps sent)", file=sys.stderr)
        raise RuntimeError("injected commit failure")


def main() -> None:
    settings = load_settings()
    scorer = Scorer(load_config(settings.config), discover())
    stats = run_worker(settings, scorer, float(sys.argv[1]), CommitFailsInFirstRebalance)
    print(f"consumed {stats.consumed:,}, scored {stats.scored:,}", file=sys.stderr, flush=True)
    os._exit(0)  # as the CLI does: faust may leave its consumer thread running


if __name__ == "__main__":
    main()
