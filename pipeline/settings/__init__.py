"""Every worker setting, read from ``EVALSTREAM_*`` environment variables.

``Settings`` is the single source of truth: docs/configuration.md is generated from it
(``python -m pipeline.tools.settings_doc``) and a test fails when the two drift apart. Its
fields are grouped in sections (faust's ``faust/types/settings/`` does the same), one class
each, in the modules of this package; ``Settings`` combines them, so every field keeps its
name and its environment variable ``EVALSTREAM_<NAME>``. A new setting goes in the section
it belongs to.
"""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import SettingsError
from pipeline.settings.base import DEFAULT_MAX_MESSAGE_BYTES, ENV_PREFIX, DatasetRoot, Section
from pipeline.settings.ingest import ReceiverSection, SpanAssemblySection
from pipeline.settings.kafka import KafkaSection, TopicsSection
from pipeline.settings.outputs import (
    CloudStorageSection,
    ObjectStorageSection,
    OutputDatasetsSection,
    RedactionSection,
    ResultExportSection,
)
from pipeline.settings.sdk import SdkSection
from pipeline.settings.sessions import SessionsSection
from pipeline.settings.worker import WorkerSection

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ENV_PREFIX",
    "SECTIONS",
    "SECTION_CLASSES",
    "DatasetRoot",
    "Section",
    "Settings",
    "load_settings",
]


class Settings(
    KafkaSection,
    TopicsSection,
    WorkerSection,
    OutputDatasetsSection,
    ObjectStorageSection,
    CloudStorageSection,
    RedactionSection,
    SpanAssemblySection,
    ReceiverSection,
    SdkSection,
    ResultExportSection,
    SessionsSection,
    BaseSettings,
):
    """Settings of the stream worker and the CLI; its sections in the order
    docs/configuration.md shows them."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")


SECTION_CLASSES: tuple[type[Section], ...] = tuple(
    base for base in Settings.__bases__ if issubclass(base, Section)
)
"""The sections, in the order of ``Settings``' bases."""

SECTIONS: dict[str, tuple[str, ...]] = {
    section.TITLE: tuple(section.model_fields) for section in SECTION_CLASSES
}
"""Every setting by section title, in the order docs/configuration.md shows them (a test
checks that none is missing or listed twice)."""


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
