"""Old import path kept only for ``pipeline.client`` and its tests (moved on branch ``client``);
delete once nothing imports it.
"""

from pipeline.tools.demo.samples import sample_traces

__all__ = ["sample_traces"]
