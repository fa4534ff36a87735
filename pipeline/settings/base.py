"""What every settings section shares: the env prefix, the section base, common types."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator

ENV_PREFIX = "EVALSTREAM_"
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000  # faust's producer default; brokers accept 1,048,588

DatasetRoot = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, PurePath) else v)]
"""A dataset root: a local path or an object store URI (``s3://bucket/prefix``). A string,
not a ``Path``: ``Path("s3://b/x")`` is the local folder ``s3:/b/x``."""


class Section(BaseModel):
    """A group of settings: its fields, and the title docs/configuration.md shows them under.

    Sections hold no environment logic of their own: ``Settings`` combines them into one
    pydantic-settings class, which reads every field from ``EVALSTREAM_<FIELD NAME>``.
    """

    TITLE: ClassVar[str]
