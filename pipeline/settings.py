"""Every worker setting, read from ``EVALSTREAM_*`` environment variables.

This class is the single source of truth: docs/configuration.md is generated from it
(``python -m pipeline.tools.settings_doc``) and a test fails when the two drift apart.
"""

from __future__ import annotations

import os
import socket
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import SettingsError

ENV_PREFIX = "EVALSTREAM_"
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000  # faust's producer default; brokers accept 1,048,588


class Settings(BaseSettings):
    """Settings of the stream worker and the CLI."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    input_topic: str = Field("traces", description="Topic the worker reads traces from.")
    scored_topic: str = Field(
        "scored-traces", description="Topic of scored traces (one message per trace)."
    )
    metrics_topic: str = Field("trace-metrics", description="Topic of windowed aggregates.")
    dlq_topic: str = Field(
        "traces.dlq", description="Dead-letter topic for messages that cannot be decoded."
    )
    parquet_dir: Path = Field(
        Path("evalstream-data/parquet"), description="Root directory of the Parquet dataset."
    )
    consumer_group: str = Field(
        "evalstream-worker", description="Kafka consumer group (and faust app id) of workers."
    )
    config: Path | None = Field(
        None, description="Path of the evaluator TOML config; unset = default evaluator set."
    )
    window_seconds: int = Field(60, gt=0, description="Width of the metrics tumbling windows.")
    processing_guarantee: Literal["exactly_once", "at_least_once"] = Field(
        "exactly_once",
        description="exactly_once: outputs and offsets commit in one Kafka transaction.",
    )
    session_timeout_seconds: float = Field(
        30.0,
        ge=6,
        description="Consumer-group session timeout: how soon a dead worker's partitions move.",
    )
    commit_interval_seconds: float = Field(
        0.25,
        gt=0,
        description=(
            "How often scored traces and offsets are committed (checked every 0.25 s). Under"
            " exactly-once, scores become visible to read_committed consumers only then, so"
            " this and batch_timeout_seconds bound the visible latency (docs/performance.md);"
            " a longer interval means fewer transactions per trace."
        ),
    )
    batch_size: int = Field(500, gt=0, description="Maximum traces taken from Kafka at once.")
    batch_timeout_seconds: float = Field(
        0.1,
        gt=0,
        description="Longest wait to fill a batch before processing it (a backlog fills"
        " batch_size at once; this only delays traces when input is slow).",
    )
    store_traces: bool = Field(
        True,
        description="Also write the traces and spans datasets beside the results (siblings of"
        " parquet_dir: .../traces, .../spans); the scored topic then carries the redacted"
        " trace body.",
    )
    field_limit_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Longest JSON/text field of a traces or spans row, in UTF-8 bytes; longer"
        " values are cut and named in the row's truncated_fields.",
    )
    parquet_flush_rows: int = Field(
        20_000, gt=0, description="Flush the Parquet buffers once they hold this many rows."
    )
    parquet_flush_seconds: float = Field(
        10.0, gt=0, description="Flush Parquet buffers at least this often (seconds)."
    )
    topic_partitions: int = Field(
        4, gt=0, description="Partitions used when the worker creates a missing topic."
    )
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES,
        ge=16_384,
        description=(
            "Largest Kafka message (key + value) the worker writes; also its producer's max"
            " request size. Keep it at or below the topics' max.message.bytes. Dead letters"
            " and scored messages over it are cut to fit (docs/guarantees.md)."
        ),
    )
    state_dir: Path | None = Field(
        None,
        description=(
            "Where the worker keeps faust's local state (one <consumer group>-data folder per"
            " group); unset = ~/.cache/evalstream/worker-state, never the current directory."
        ),
    )
    worker_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="Name of this worker in metrics records; default hostname-pid.",
    )
    log_level: str = Field("WARNING", description="Log level of the worker.")
    redact: str = Field(
        "none",
        description="PII redacted from everything written: none, all, or a list of"
        " email,phone,credit_card,ip,api_key.",
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict,
        description='Extra redaction regexes by name, as JSON: {"ticket": "TCK-[0-9]+"}.',
    )
    plugin_allowlist: str | None = Field(
        None,
        description="Comma-separated evaluator entry-point names allowed to load; unset = all.",
    )
    metrics_port: int = Field(
        0, ge=0, lt=65536, description="Port of the Prometheus /metrics endpoint; 0 = off."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol of every client."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password (never logged or shown in errors)."
    )
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers (SSL).")
    ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="Private key of the client certificate.")

    # Ingest: OTLP receiver and span assembler
    spans_topic: str = Field(
        "otlp_spans", description="Topic of OTLP spans (receiver, SDK exporter, OTel Collector)."
    )
    spans_encoding: Literal["otlp_proto", "otlp_json"] = Field(
        "otlp_proto", description="Encoding of messages on the spans topic (as the Collector's)."
    )
    assembler_enabled: bool = Field(
        True, description="Run the span assembler (spans topic -> traces) inside the worker."
    )
    trace_grace_seconds: float = Field(
        5.0, ge=0, description="Wait after the root span ends before emitting a trace."
    )
    trace_max_wait_seconds: float = Field(
        300.0, gt=0, description="Emit a trace whose root span never arrives after this long."
    )
    trace_keep_emitted_bytes: int = Field(
        256 * 1024,
        ge=0,
        description="Spans of an emitted trace the assembler keeps (bytes, per trace, one hour)"
        " so a late span re-emits the whole trace as the next trace_version; 0 = ids only.",
    )
    receiver_host: str = Field("127.0.0.1", description="Address the OTLP receiver binds.")
    receiver_port: int = Field(
        4318, ge=0, lt=65536, description="Port of the receiver's OTLP/HTTP endpoint; 0 = off."
    )
    receiver_grpc_port: int = Field(
        4317, ge=0, lt=65536, description="Port of the receiver's OTLP/gRPC endpoint; 0 = off."
    )
    receiver_token: SecretStr | None = Field(
        None, description="Bearer token the receiver accepts (Authorization: Bearer ...)."
    )
    receiver_auth_header: SecretStr | None = Field(
        None,
        description="Header the receiver accepts as credential, as name=value (e.g. api_key=12345);"
        " with a token set too, either one suffices; both unset = no auth.",
    )
    receiver_kafka_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest wait for Kafka's acknowledgement before the receiver answers"
        " 503 / UNAVAILABLE (keep it below the exporters' 10 s timeout).",
    )
    receiver_retry_after_seconds: float = Field(
        2.0, gt=0, description="Retry-After / RetryInfo delay the receiver asks for when refusing."
    )
    receiver_max_body_bytes: int = Field(
        8 * 1024 * 1024, gt=0, description="Largest request body the receiver accepts."
    )

    # App-side SDK (pipeline.client)
    async_max_workers: int = Field(10, gt=0, description="Sender threads of TraceProducer.")
    async_max_queue_size: int = Field(
        1000, gt=0, description="Traces TraceProducer holds in memory before its policy applies."
    )
    async_retry_timeout: float = Field(
        500.0, gt=0, description="How long TraceProducer retries a send before spilling it."
    )
    async_queue_full_policy: Literal["block", "spill", "drop"] = Field(
        "spill", description="What log_trace does when the queue is full."
    )
    spill_dir: Path = Field(
        Path("evalstream-data/spill"), description="Where TraceProducer spills traces to disk."
    )

    # Optional result export to an OTLP backend
    otel_results_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces endpoint that receives evaluation results; unset = off."
    )
    otel_results_queue_batches: int = Field(
        100,
        gt=0,
        description="Scored batches the OTLP result export holds while the backend is slow;"
        " beyond it results are counted as lost, scoring never waits.",
    )

    @cached_property
    def allowed_plugins(self) -> list[str] | None:
        if self.plugin_allowlist is None:
            return None
        return [name.strip() for name in self.plugin_allowlist.split(",") if name.strip()]

    @cached_property
    def faust_data_dir(self) -> Path:
        """faust's ``datadir`` for this group: under ``state_dir``, not the working directory
        (faust's default, which left ``<group>-data`` folders in every project run from)."""
        root = self.state_dir or Path.home() / ".cache" / "evalstream" / "worker-state"
        return root / f"{self.consumer_group}-data"

    @cached_property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (from CLI flags) on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
