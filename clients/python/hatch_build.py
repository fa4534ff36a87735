"""Build hook: an editable install serves ``schemas/`` from the repository, not a copy.

The wheel force-includes ``../../schemas``; hatchling copies force-included files into editable
wheels too, and that copy in site-packages shadows the repository's ``schemas/`` (found first
on sys.path), so an edit to a message model was invisible to any process started outside the
repository root until the next reinstall. For editable builds the force-include is replaced by
one harmless marker file; the repository root is on sys.path through dev-mode-dirs.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditableSchemasHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            build_data["force_include_editable"] = {
                "README.md": "_evalstream_client_editable_README.md"
            }
