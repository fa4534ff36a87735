"""What the UI tests import by name (a module of its own: ``from conftest import ...`` gets
whichever ``conftest`` pytest imported last, which is another folder's when the run collects
several): the payloads a UI must escape, a client of the app in this process, and
``evalstream ui`` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipeline.kafka.broker import free_port
from pipeline.tools.ui.app import create_app
from pipeline.tools.ui.layout import Datasets
from pipeline.tools.ui.store import Store

SCRIPT_IN = "<script>alert('inputs')</script>"
SCRIPT_OUT = '<script>alert("outputs")</script><img src=x onerror=alert(1)>'
SCRIPT_SPAN = "<script>document.title='span'</script>"
HUGE = "word " * 14_000  # 70,000 bytes: over the 64 KB field limit


def make_client(results_dir: Path, token: str | None = None):
    from starlette.testclient import TestClient

    store = Store(Datasets.beside(results_dir), listing_ttl=0)
    return TestClient(create_app(store, token=token))


@contextmanager
def serve_ui(results_dir: Path):
    """``evalstream ui`` as a real process on a free loopback port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "ui", "--data-dir", str(results_dir),
         "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[4],
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            server.kill()
            pytest.fail(f"evalstream ui did not start: {server.communicate()[1][-2000:]}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
