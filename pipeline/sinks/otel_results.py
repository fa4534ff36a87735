"""Old import path kept only for ``pipeline.client`` and its tests (moved on branch ``client``);
delete once nothing imports it.
"""

from pipeline.sinks.otel import OtlpExportError, OtlpResultExporter

__all__ = ["OtlpExportError", "OtlpResultExporter"]
