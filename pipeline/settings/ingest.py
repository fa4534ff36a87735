"""Settings of ingest: the span assembler and the OTLP receiver."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from pipeline.settings.base import Section


class SpanAssemblySection(Section):
    """The span assembler inside the worker."""

    TITLE: ClassVar[str] = "Span assembly (OTLP spans to traces)"

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


class ReceiverSection(Section):
    """The OTLP/HTTP and gRPC receiver (``evalstream receiver``)."""

    TITLE: ClassVar[str] = "OTLP receiver"

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
