"""Where scored records are written: Parquet files (``parquet``), Kafka topics in one
transaction (``kafka``) and OpenTelemetry spans (``otel``).

Nothing is imported here, so importing one sink does not load the others' dependencies.
"""
