"""Settings of the Kafka connection and of the topics."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from pipeline.settings.base import DEFAULT_MAX_MESSAGE_BYTES, Section


class KafkaSection(Section):
    """How every client reaches the brokers."""

    TITLE: ClassVar[str] = "Kafka connection and security"

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
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
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES,
        ge=16_384,
        description=(
            "Largest Kafka message (key + value) the worker writes; also its producer's max"
            " request size. Keep it at or below the topics' max.message.bytes. Dead letters"
            " and scored messages over it are cut to fit (docs/guarantees.md)."
        ),
    )
    topic_partitions: int = Field(
        4, gt=0, description="Partitions used when the worker creates a missing topic."
    )

    @cached_property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]


class TopicsSection(Section):
    """The topics the worker reads and writes."""

    TITLE: ClassVar[str] = "Topics"

    input_topic: str = Field("traces", description="Topic the worker reads traces from.")
    scored_topic: str = Field(
        "scored-traces", description="Topic of scored traces (one message per trace)."
    )
    metrics_topic: str = Field("trace-metrics", description="Topic of windowed aggregates.")
    dlq_topic: str = Field(
        "traces.dlq", description="Dead-letter topic for messages that cannot be decoded."
    )
    spans_topic: str = Field(
        "otlp_spans", description="Topic of OTLP spans (receiver, SDK exporter, OTel Collector)."
    )
