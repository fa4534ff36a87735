"""Settings of the app-side SDK (``evalstream_client``) read from the same environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from pipeline.settings.base import Section


class SdkSection(Section):
    """The app-side SDK's sender."""

    TITLE: ClassVar[str] = "App-side SDK (evalstream_client)"

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
