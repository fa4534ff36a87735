"""``evalstream demo``: a local broker, sample traces (``samples``), a worker, and a summary
of the dataset it wrote (``summary``), run by ``run``.
"""
