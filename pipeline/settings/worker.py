"""Settings of the stream worker itself."""

from __future__ import annotations

import os
import socket
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from pipeline.settings.base import Section


class WorkerSection(Section):
    """The stream worker's group, batching, commits and windows."""

    TITLE: ClassVar[str] = "Worker"

    consumer_group: str = Field(
        "evalstream-worker", description="Kafka consumer group (and faust app id) of workers."
    )
    config: Path | None = Field(
        None, description="Path of the evaluator TOML config; unset = default evaluator set."
    )
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
    window_seconds: int = Field(60, gt=0, description="Width of the metrics tumbling windows.")
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
    outage_log_interval: float = Field(
        30.0,
        gt=0,
        description="Repeated aiokafka warnings (a broker away) are held back and counted in"
        " one line per interval (s); the SDK's outage lines use the same interval.",
    )
    metrics_port: int = Field(
        0, ge=0, lt=65536, description="Port of the Prometheus /metrics endpoint; 0 = off."
    )
    evaluator_processes: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Evaluator processes per worker for CPU-bound evaluators (executor = process: the"
            " quality evaluators by default), so one worker uses more than one core; each"
            " builds the configured evaluators itself (memory per process). 0 = off: every"
            " evaluator runs in a thread of the worker (docs/performance.md)."
        ),
    )
    malloc_mmap_threshold_bytes: int = Field(
        128 * 1024,
        ge=0,
        le=32 * 2**20,
        description=(
            "Allocations this large get their own mmap, returned to the system when freed,"
            " and free memory past it at the top of the heap is given back (glibc's mallopt"
            " M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, fixed instead of glibc's sliding ones:"
            " lower peak RSS, docs/performance.md); 0 = glibc's defaults. No effect on other"
            " C libraries."
        ),
    )
    malloc_arena_max: int = Field(
        2,
        ge=0,
        le=1024,
        description=(
            "glibc malloc heaps (arenas) the worker's threads share (mallopt M_ARENA_MAX;"
            " glibc's default is 8 per core, each keeping its free pages:"
            " docs/performance.md); 0 = glibc's default. No effect on other C libraries."
        ),
    )
    plugin_allowlist: str | None = Field(
        None,
        description="Comma-separated evaluator entry-point names allowed to load; unset = all.",
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
