"""The built-in evaluators (operational + quality), registered through entry points like any
plugin; their shipped models live in ``models/`` beside them."""
