"""No pickle, marshal or eval of anything: checked on the source, so a new import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "evaluators", "schemas")
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "joblib", "dill", "cloudpickle", "shelve"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def findings() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Import):
                    names = {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    names = {(node.module or "").split(".")[0]}
                else:
                    names = set()
                found += [f"{where}: imports {n}" for n in names & FORBIDDEN_MODULES]
                call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                if call and node.func.id in FORBIDDEN_CALLS:
                    found.append(f"{where}: calls {node.func.id}()")
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "load"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "yaml"
                ):
                    found.append(f"{where}: yaml.load (use yaml.safe_load)")
    return found


def test_no_unsafe_deserialisation_or_code_execution():
    assert findings() == []


def test_the_scan_itself_finds_what_it_looks_for(tmp_path, monkeypatch):
    bad = tmp_path / "pipeline"
    bad.mkdir()
    (bad / "x.py").write_text("import pickle\nfrom joblib import load\neval('1')\n")
    for name in ("evaluators", "schemas"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert len(findings()) == 3
