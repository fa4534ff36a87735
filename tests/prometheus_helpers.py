"""Read a Prometheus /metrics page the way a scraper does, for tests."""

from __future__ import annotations

import urllib.request


def scrape(port: int) -> dict[str, float]:
    """Samples by full name with labels, e.g. 'evalstream_dead_letters_total{reason="x"}'."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples
