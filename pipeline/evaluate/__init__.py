"""A decoded trace -> its scored record (``scorer``), and time windows of scores (``windows``)."""

from pipeline.evaluate.scorer import ScoredRecord, Scorer, SourcedTrace
from pipeline.evaluate.windows import WindowAggregator

__all__ = ["ScoredRecord", "Scorer", "SourcedTrace", "WindowAggregator"]
