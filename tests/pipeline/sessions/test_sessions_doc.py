"""docs/sessions.md matches the code: its settings table (names and defaults) and the field
lists of the scored-sessions message and the ``sessions`` dataset."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.settings import Settings
from schemas.session import ClosedBy, ScoredSession, SessionRow

DOC = (Path(__file__).resolve().parents[3] / "docs" / "sessions.md").read_text()


def _between(start: str, end: str) -> list[str]:
    part = DOC[DOC.index(start) : DOC.index(end, DOC.index(start))]
    return re.findall(r"`([a-z_]+)`", part)


def test_the_settings_table_names_every_session_setting_with_its_default():
    table = DOC[DOC.index("## Settings") :]
    rows = dict(re.findall(r"\| `EVALSTREAM_([A-Z_]+)` \| `?([^`|]+?)`? \|", table))
    fields = Settings.model_fields
    documented = {name.lower() for name in rows}
    wanted = {n for n in fields if n.startswith(("session_", "sessions_", "scored_sessions"))}
    assert documented == wanted - {"session_timeout_seconds"}  # that one is the consumer's
    for name, default in rows.items():
        value = fields[name.lower()].default
        if isinstance(value, bool):
            assert default == str(value).lower(), name
        elif isinstance(value, int | float):
            assert float(default) == value, name
        else:
            assert default == value, name


def test_the_message_and_dataset_field_lists_are_the_models_fields():
    message = _between("- **`scored-sessions` topic**", "Free\n  text")
    closed_by = {reason.value for reason in ClosedBy}
    assert [f for f in message if f not in closed_by] == list(ScoredSession.model_fields)
    assert closed_by <= set(message)
    columns = _between("one row per closing x session evaluator", "Files are named")
    assert columns == list(SessionRow.model_fields)
