"""Every worker setting, read from ``EVALSTREAM_*`` environment variables.

This class is the single source of truth: docs/configuration.md is generated from it
(``python -m pipeline.tools.settings_doc``) and a test fails when the two drift apart.
"""

from __future__ import annotations

import os
import socket
from functools import cached_property
from pathlib import Path, PurePath
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import SettingsError

ENV_PREFIX = "EVALSTREAM_"
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000  # faust's producer default; brokers accept 1,048,588

DatasetRoot = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, PurePath) else v)]
"""A dataset root: a local path or an object store URI (``s3://bucket/prefix``). A string,
not a ``Path``: ``Path("s3://b/x")`` is the local folder ``s3:/b/x``."""


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
    parquet_dir: DatasetRoot = Field(
        "evalstream-data/parquet",
        description="Root of the Parquet results dataset: a local directory or a URI"
        " (s3://bucket/prefix, gs://bucket/prefix, abfs://container@account/prefix); the"
        " traces and spans datasets are its siblings.",
    )
    table_format: Literal["parquet", "delta"] = Field(
        "parquet",
        description="parquet: files named by scored-topic offsets under parquet_dir (and its"
        " traces/spans siblings). delta: the same three datasets as Delta Lake tables at those"
        " roots, committed exactly once per source partition and offset range"
        " (docs/consume.md).",
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

    # Object storage (S3 and S3-compatible stores) of the Parquet datasets
    s3_endpoint_url: str | None = Field(
        None,
        description="S3 endpoint, e.g. http://127.0.0.1:9000 for a local store; unset ="
        " AWS_ENDPOINT_URL, else AWS's own endpoint.",
    )
    s3_region: str | None = Field(
        None, description="S3 region; unset = AWS_REGION (else us-east-1)."
    )
    s3_access_key_id: str | None = Field(
        None, description="S3 access key; unset = AWS_ACCESS_KEY_ID (else the SDK's chain)."
    )
    s3_secret_access_key: SecretStr | None = Field(
        None, description="S3 secret key; unset = AWS_SECRET_ACCESS_KEY (never logged)."
    )
    s3_session_token: SecretStr | None = Field(
        None, description="S3 session token; unset = AWS_SESSION_TOKEN."
    )
    s3_conditional_put: bool = Field(
        True,
        description="Write each object with If-None-Match: * so the store refuses to replace"
        " an existing one (zombie fencing, docs/guarantees.md); turn off only for a store"
        " that rejects the header.",
    )
    s3_connect_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="Connect timeout of S3 requests (an unreachable endpoint fails"
        " the start-up check after about three of these).",
    )

    # Object storage: Google Cloud Storage and Azure Blob / ADLS Gen2
    gcs_endpoint_url: str | None = Field(
        None,
        description="GCS endpoint, e.g. http://127.0.0.1:4443 for a local emulator; unset ="
        " STORAGE_EMULATOR_HOST, else Google's own endpoint.",
    )
    gcs_anonymous: bool | None = Field(
        None,
        description="Reach GCS without credentials; unset = only when an emulator endpoint is"
        " set (else Google's application default credentials).",
    )
    gcs_conditional_put: bool = Field(
        True,
        description="Create each gs:// object with ifGenerationMatch=0 so GCS refuses to"
        " replace an existing one (zombie fencing, docs/guarantees.md).",
    )
    azure_account_name: str | None = Field(
        None,
        description="Azure storage account; unset = the account in the abfs:// URI, else"
        " AZURE_STORAGE_ACCOUNT_NAME, else AZURE_STORAGE_CONNECTION_STRING's AccountName.",
    )
    azure_account_key: SecretStr | None = Field(
        None,
        description="Azure account key; unset = AZURE_STORAGE_ACCOUNT_KEY, else the connection"
        " string's AccountKey, else a SAS token or Azure's default credential (never logged).",
    )
    azure_blob_endpoint: str | None = Field(
        None,
        description="Azure blob endpoint, e.g. http://127.0.0.1:10000 for Azurite; unset = the"
        " connection string's BlobEndpoint, else https://<account>.blob.core.windows.net.",
    )
    azure_conditional_put: bool = Field(
        True,
        description="Create each abfs:// blob with If-None-Match: * so Azure refuses to replace"
        " an existing one (zombie fencing, docs/guarantees.md).",
    )

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

    # Sessions (multi-turn evaluation, docs/sessions.md)
    sessions_enabled: bool = Field(
        True,
        description="Group traces with a session id into sessions and run the session"
        " evaluators on each closed session.",
    )
    session_turns_topic: str = Field(
        "session-turns",
        description="Internal topic of scored traces re-keyed by session id (the session"
        " stage's input).",
    )
    scored_sessions_topic: str = Field(
        "scored-sessions", description="Topic of scored sessions (one message per closing)."
    )
    session_gap_seconds: float = Field(
        1800.0,
        gt=0,
        description="A session closes after this much event time (trace timestamps) without a"
        " turn.",
    )
    session_max_duration_seconds: float = Field(
        86_400.0, gt=0, description="A session closes once its turns span this long."
    )
    session_lateness_seconds: float = Field(
        300.0,
        ge=0,
        description="Watermark lateness: the watermark is the newest trace time seen on a"
        " partition minus this.",
    )
    session_grace_seconds: float = Field(
        3600.0,
        ge=0,
        description="After closing, a session is kept this much event time past its gap so a"
        " late turn re-opens it (session_version N+1); later ones start a new session.",
    )
    session_idle_seconds: float = Field(
        60.0,
        gt=0,
        description="A partition with no new turn for this long (wall clock) lets its watermark"
        " advance with the wall clock, so the last sessions close when traffic stops.",
    )
    session_max_open: int = Field(
        10_000,
        gt=0,
        description="Sessions one worker holds; past it the oldest is closed early (metric"
        " evalstream_session_limit_hits_total).",
    )
    session_max_turns: int = Field(
        100, gt=0, description="Turns per session; a session at the bound is closed and scored."
    )
    session_turn_text_bytes: int = Field(
        4096,
        ge=256,
        description="Longest input or output of a turn the session state keeps (UTF-8 bytes).",
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


SECTIONS: dict[str, tuple[str, ...]] = {
    "Kafka connection and security": (
        "bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_username",
        "sasl_password", "ssl_cafile", "ssl_certfile", "ssl_keyfile", "max_message_bytes",
        "topic_partitions",
    ),
    "Topics": ("input_topic", "scored_topic", "metrics_topic", "dlq_topic", "spans_topic"),
    "Worker": (
        "consumer_group", "config", "processing_guarantee", "session_timeout_seconds",
        "commit_interval_seconds", "batch_size", "batch_timeout_seconds", "window_seconds",
        "state_dir", "worker_id", "log_level", "metrics_port", "plugin_allowlist",
    ),
    "Output datasets": (
        "parquet_dir", "table_format", "store_traces", "field_limit_bytes",
        "parquet_flush_rows", "parquet_flush_seconds",
    ),
    "Object storage (S3; over the standard AWS_* variables)": (
        "s3_endpoint_url", "s3_region", "s3_access_key_id", "s3_secret_access_key",
        "s3_session_token", "s3_conditional_put", "s3_connect_timeout_seconds",
    ),
    "Object storage (GCS, Azure; over STORAGE_EMULATOR_HOST and AZURE_STORAGE_*)": (
        "gcs_endpoint_url", "gcs_anonymous", "gcs_conditional_put", "azure_account_name",
        "azure_account_key", "azure_blob_endpoint", "azure_conditional_put",
    ),
    "Redaction": ("redact", "redact_patterns"),
    "Span assembly (OTLP spans to traces)": (
        "spans_encoding", "assembler_enabled", "trace_grace_seconds", "trace_max_wait_seconds",
        "trace_keep_emitted_bytes",
    ),
    "OTLP receiver": (
        "receiver_host", "receiver_port", "receiver_grpc_port", "receiver_token",
        "receiver_auth_header", "receiver_kafka_timeout_seconds", "receiver_retry_after_seconds",
        "receiver_max_body_bytes",
    ),
    "App-side SDK (evalstream_client)": (
        "async_max_workers", "async_max_queue_size", "async_retry_timeout",
        "async_queue_full_policy", "spill_dir",
    ),
    "Result export (OTLP)": ("otel_results_endpoint", "otel_results_queue_batches"),
    "Sessions (multi-turn evaluation, docs/sessions.md)": (
        "sessions_enabled", "session_turns_topic", "scored_sessions_topic",
        "session_gap_seconds", "session_max_duration_seconds", "session_lateness_seconds",
        "session_grace_seconds", "session_idle_seconds", "session_max_open",
        "session_max_turns", "session_turn_text_bytes",
    ),
}  # fmt: skip
"""Every setting in exactly one section, in the order docs/configuration.md shows them (a
test checks that none is missing or listed twice)."""


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
