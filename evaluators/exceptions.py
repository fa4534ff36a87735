"""Errors raised by the evaluators package."""


class EvaluatorError(Exception):
    """Root of every error raised by the evaluators package."""


class EvaluatorDefinitionError(EvaluatorError):
    """An evaluator is declared wrongly (bad signature, bad name); found at load time."""


class ConfigError(EvaluatorError):
    """The evaluator configuration (TOML) is invalid; the message points at the key."""


class UnknownEvaluatorError(ConfigError):
    """The configuration names an evaluator that is not installed."""
