"""The one-way dependency rule of docs/architecture.md, read from the source (ast), so an
import that breaks it fails here before anyone has to untangle a cycle.

    schemas             imports nothing of ours (any consumer can use it alone)
    evaluators          imports only schemas (a plugin author never pulls in Kafka or faust)
    pipeline.client     imports only schemas of ours, and no stream-stack library (it re-exports
                        clients/python/evalstream_client, the SDK's own distribution)
    pipeline.ingest     imports no evaluator (it turns spans into traces, nothing more)
    pipeline.cli        is imported by nothing else (the one place that wires everything)

Every import counts, also those inside functions; for ingest also what its imports import
at run time (``if TYPE_CHECKING:`` blocks excepted).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("schemas", "evaluators", "pipeline")
STREAM_STACK = ("faust", "aiokafka", "mode", "pyarrow", "pandas", "sklearn", "typer", "rich")


def imports_of(path: Path, typing_only: bool = True) -> set[str]:
    """Every module name ``path`` imports (``from a.b import c``: ``a.b`` and ``a.b.c``).

    ``typing_only=False`` leaves out imports under ``if TYPE_CHECKING:`` (never run).
    """
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and not typing_only:
            test = node.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    visit(child)
                return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return names


def module_path(name: str) -> Path | None:
    """The source file of one of our modules (``None`` for a name that is not a module)."""
    base = ROOT / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def loaded_at_run_time(package: str) -> set[str]:
    """Our modules that importing every module of ``package`` runs, transitively."""
    seen: set[str] = set()
    todo = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in modules_under(package)]
    while todo:
        name = todo.pop().removesuffix(".__init__")
        path = module_path(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        todo.extend(n for n in imports_of(path, typing_only=False) if n.split(".")[0] in OURS)
    return seen


def modules_under(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(package: str, allowed: tuple[str, ...], banned: tuple[str, ...] = ()) -> list:
    """Imports of our packages outside ``allowed``, and of anything in ``banned``."""
    found = []
    for path in modules_under(package):
        for name in sorted(imports_of(path)):
            ours = name.split(".")[0] in OURS
            outside = ours and not any(within(name, a) for a in allowed)
            if outside or any(within(name, b) for b in banned):
                found.append((str(path.relative_to(ROOT)), name))
    return found


def test_schemas_import_nothing_of_ours():
    assert violations("schemas", allowed=("schemas",)) == []


def test_evaluators_import_only_schemas():
    assert violations("evaluators", allowed=("evaluators", "schemas")) == []


def test_ingest_imports_no_evaluator():
    assert violations("pipeline.ingest", allowed=("pipeline", "schemas")) == []
    loaded = loaded_at_run_time("pipeline.ingest")
    assert "pipeline.ingest.spans.conventions" in loaded  # the walk follows imports
    assert [name for name in loaded if within(name, "evaluators")] == []


def test_nothing_but_the_cli_imports_the_cli():
    found = [
        (str(path.relative_to(ROOT)), name)
        for package in OURS
        for path in modules_under(package)
        if not within(".".join(path.relative_to(ROOT).with_suffix("").parts), "pipeline.cli")
        for name in imports_of(path)
        if within(name, "pipeline.cli")
    ]
    assert found == []


def test_client_imports_only_schemas_and_no_stream_stack():
    """The SDK lives in clients/python/evalstream_client (its own light distribution);
    ``pipeline.client`` only re-exports it."""
    allowed = ("pipeline.client", "evalstream_client", "schemas")
    assert violations("pipeline.client", allowed=allowed, banned=STREAM_STACK) == []
    sdk = sorted((ROOT / "clients" / "python" / "evalstream_client").rglob("*.py"))
    assert len(sdk) > 5
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in sdk
        for name in sorted(imports_of(path))
        if (
            (name.split(".")[0] in (*OURS, "evalstream_client"))
            and not any(within(name, a) for a in ("evalstream_client", "schemas"))
        )
        or any(within(name, b) for b in STREAM_STACK)
    ]
    assert found == []


def test_the_checker_sees_a_violation(tmp_path):
    """The rule above can fail: a module importing what it must not is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from pipeline.settings import Settings\n    import faust\n")
    assert {"pipeline.settings", "pipeline.settings.Settings", "faust"} <= imports_of(bad)
