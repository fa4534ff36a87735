"""Option help texts show their square brackets: typer's rich markup used to eat them
("TOML with [] rules" for [[alerts]], "Target topic ." for [default: ...]) (issue 16.13)."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.main import app


def commands_with_bracketed_help() -> list[tuple[list[str], str]]:
    """(command path, help as the user should read it) for every option help with a '['."""
    found = []

    def walk(command: click.Command, path: list[str]) -> None:
        for param in command.params:
            help_text = getattr(param, "help", None) or ""
            if "[" in help_text:
                found.append((path, help_text.replace("\\[", "[")))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


CASES = commands_with_bracketed_help()


def test_the_known_bracketed_helps_are_found():
    texts = " ".join(text for _, text in CASES)
    assert "[[alerts]]" in texts and "[default: EVALSTREAM_INPUT_TOPIC]" in texts


@pytest.mark.parametrize(("path", "expected"), CASES, ids=[" ".join(p) for p, _ in CASES])
def test_brackets_survive_in_help_output(path, expected):
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert expected in done.output
