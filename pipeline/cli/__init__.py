"""The ``evalstream`` command: typer commands only, one module per command group.

``main`` builds the app and its error handling; every other module is one group
(``stream``: worker and receiver, ``topics``: publish and tail, ``broker``, ``evaluators``,
``backfill``, ``maintenance``, ``alerts``, ``report``, ``demo``, ``ui``: the web UI and
``trace show``).
"""

from pipeline.cli.main import app, main

__all__ = ["app", "main"]
