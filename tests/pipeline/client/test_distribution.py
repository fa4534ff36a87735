"""The light distribution, evalstream-client, installed from the repository into a fresh
venv: its size, what it imports, and that it lives beside the full package without owning a
file in common (an uninstall of the full package leaves the SDK working). About 50 s: pip
builds both wheels (the files from PyPI come from pip's cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLIENT = ROOT / "clients" / "python"
SIZE_GOAL_MB = 60


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_versions_and_the_pin_agree() -> None:
    full, light = _pyproject(ROOT / "pyproject.toml"), _pyproject(CLIENT / "pyproject.toml")
    version = light["project"]["version"]
    assert full["project"]["version"] == version
    assert f"evalstream-client=={version}" in full["project"]["dependencies"]
    assert "schemas*" not in full["tool"]["setuptools"]["packages"]["find"]["include"]
    assert set(light["project"]["dependencies"]) == {"kafka-python>=3.0", "pydantic>=2.6"}


def _pip(venv_python: Path, *args: str) -> str:
    """The outer pip acting on the venv (``--python``): the venv itself stays without pip."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv_python), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _run(venv_python: Path, code: str) -> str:
    done = subprocess.run(
        [str(venv_python), "-c", code], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def _site_packages_mb(venv: Path) -> float:
    (site,) = venv.glob("lib/python*/site-packages")
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6


OWNED_FILES = """
import importlib.metadata as md, json
print(json.dumps({d: sorted(str(f) for f in md.files(d) if not str(f).startswith('..'))
                  for d in ("evalstream", "evalstream-client")}))
"""


@pytest.mark.slow  # 47-70 s measured on the shared 2-core machine
def test_light_client_in_a_fresh_venv_beside_the_full_package(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"

    _pip(python, "install", "-q", str(CLIENT))
    size_mb = _site_packages_mb(venv)
    packages = _pip(python, "list", "--format=freeze").split()
    print(f"\nevalstream-client: {len(packages)} packages, {size_mb:.1f} MB site-packages")
    print(" ".join(packages))
    assert size_mb <= SIZE_GOAL_MB, (size_mb, packages)
    loaded = _run(
        python,
        "import sys\n"
        "from evalstream_client import TraceProducer, ScoredTraceConsumer, traced\n"
        "from schemas import Trace, ScoredTrace\n"
        "import evalstream_client.consumer\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))",
    ).split()
    assert not {"pipeline", "faust", "pyarrow", "pandas", "orjson"} & set(loaded)

    _pip(python, "install", "-q", f"{CLIENT}[otel]")  # the span exporter's extra
    otel_mb = _site_packages_mb(venv)
    otel_packages = _pip(python, "list", "--format=freeze").split()
    print(f"evalstream-client[otel]: {len(otel_packages)} packages, {otel_mb:.1f} MB")
    assert otel_mb <= SIZE_GOAL_MB, (otel_mb, otel_packages)
    exporter = "from evalstream_client import KafkaSpanExporter\nprint(KafkaSpanExporter.__name__)"
    assert _run(python, exporter) == "KafkaSpanExporter"

    _pip(
        python, "install", "-q", "--no-deps", str(ROOT)
    )  # the full package: its deps are not needed
    owned = json.loads(_run(python, OWNED_FILES))
    both = set(owned["evalstream"]) & set(owned["evalstream-client"])
    assert not both, sorted(both)[:10]
    assert any(f.startswith("schemas/") for f in owned["evalstream-client"])
    assert not any(f.startswith(("schemas/", "evalstream_client/")) for f in owned["evalstream"])
    same = "import pipeline.client as a, evalstream_client as b\nprint(a.traced is b.traced)"
    assert _run(python, same) == "True"

    _pip(python, "uninstall", "-q", "-y", "evalstream")
    assert _run(python, "import evalstream_client, schemas; print(schemas.Trace.__name__)") == (
        "Trace"
    )
    assert _run(python, "import importlib.util as u; print(u.find_spec('pipeline'))") == "None"
