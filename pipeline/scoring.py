"""Old import path kept only for ``pipeline.client`` and its tests (moved on branch ``client``);
delete once nothing imports it.
"""

from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace

__all__ = ["ScoredRecord", "SourcedTrace"]
