"""An example evalstream plugin: one evaluator, ``contains_citation``, found by entry point."""

from evalstream_plugin_example.citation import contains_citation

__all__ = ["contains_citation"]
