"""Trace files as inputs of ``evalstream publish`` and ``evalstream backfill --from-files``.

``trace_files`` reads JSONL/JSON/OTLP files into keyed records; ``exports`` detects and
converts exported formats (ours, MLflow, Langfuse, OTLP JSON) with ``mlflow_export`` and
``langfuse``.
"""
