"""Settings of what the worker writes: datasets, their storage, redaction, result export."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from pipeline.settings.base import DatasetRoot, Section


class OutputDatasetsSection(Section):
    """The Parquet (or Delta) datasets the worker writes."""

    TITLE: ClassVar[str] = "Output datasets"

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
    parquet_from: Literal["topic", "memory"] = Field(
        "topic",
        description="Where the worker's Parquet rows of scored traces come from. topic: it"
        " reads the scored-traces topic back (read_committed). memory: from the batches it"
        " just committed, the topic read only to recover what a crash left unwritten; scored"
        " traces then go to the partition of their source (the scored topic needs as many"
        " partitions as the input topic; every worker of the group must use the same value)."
        " See pipeline/worker/parquet_memory.py.",
    )


class ObjectStorageSection(Section):
    """S3 and S3-compatible stores holding the datasets."""

    TITLE: ClassVar[str] = "Object storage (S3; over the standard AWS_* variables)"

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


class CloudStorageSection(Section):
    """Google Cloud Storage and Azure Blob / ADLS Gen2 holding the datasets."""

    TITLE: ClassVar[str] = (
        "Object storage (GCS, Azure; over STORAGE_EMULATOR_HOST and AZURE_STORAGE_*)"
    )

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


class RedactionSection(Section):
    """PII removed from everything written."""

    TITLE: ClassVar[str] = "Redaction"

    redact: str = Field(
        "none",
        description="PII redacted from everything written: none, all, or a list of"
        " email,phone,credit_card,ip,api_key.",
    )
    redact_patterns: dict[str, str] = Field(
        default_factory=dict,
        description='Extra redaction regexes by name, as JSON: {"ticket": "TCK-[0-9]+"}.',
    )


class ResultExportSection(Section):
    """Optional export of the results to an OTLP backend."""

    TITLE: ClassVar[str] = "Result export (OTLP)"

    otel_results_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces endpoint that receives evaluation results; unset = off."
    )
    otel_results_queue_batches: int = Field(
        100,
        gt=0,
        description="Scored batches the OTLP result export holds while the backend is slow;"
        " beyond it results are counted as lost, scoring never waits.",
    )
