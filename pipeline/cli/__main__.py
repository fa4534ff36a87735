"""``python -m pipeline.cli``: the same as the ``evalstream`` console script."""

from pipeline.cli.main import main

main()
