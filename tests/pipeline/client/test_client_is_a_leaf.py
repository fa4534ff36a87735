"""The SDK (evalstream_client) imports only schemas, kafka-python, pydantic, the stdlib and,
in the exporter, OpenTelemetry: an application installs it without the stream worker."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import evalstream_client

SDK = Path(evalstream_client.__file__).parent
ALLOWED = {"evalstream_client", "schemas", "kafka", "pydantic", "opentelemetry", "google"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
UNSAFE_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}: {node.func.id}()"
    return names - {"__future__"}


def test_sdk_imports_nothing_of_the_worker() -> None:
    files = sorted(SDK.glob("*.py"))
    assert len(files) >= 10
    found = {path.name: _imports(path) for path in files}
    outside = {
        name: sorted(mods - ALLOWED - set(sys.stdlib_module_names))
        for name, mods in found.items()
        if mods - ALLOWED - set(sys.stdlib_module_names)
    }
    assert not outside, outside
    assert not [name for name, mods in found.items() if mods & UNSAFE_MODULES]


def test_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in SDK.glob("*.py")}
    assert max(sizes.values()) <= 300, sizes
