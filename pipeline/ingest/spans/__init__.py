"""Pure span -> trace conversion: no Kafka, no I/O, no evaluator.

``otlp`` decodes OTLP JSON/protobuf into normalized span dicts; ``dicts`` normalizes SDK and
MLflow span dicts; ``facts`` reads the semantic conventions (OpenInference, OTel GenAI, MLflow)
of one span; ``conventions`` builds the trace from a trace's spans; ``values``/``genai`` are
their value helpers. The public names are re-exported by :mod:`pipeline.ingest`.
"""
