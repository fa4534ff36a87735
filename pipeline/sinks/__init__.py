"""Where scored traces are written: Parquet files and Kafka topics."""
