"""The self-contained HTML report of a Parquet dataset (``evalstream report``).

``data`` loads and summarises the dataset, ``svg`` draws the charts, ``html`` lays out the page.
"""

from pipeline.tools.report.html import render, report_command

__all__ = ["render", "report_command"]
