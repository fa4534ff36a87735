"""Evaluators: the plugin API (``@evaluator``, ``Evaluator``, ``Result``) and the built-ins.

Imports only ``schemas``: a plugin author never pulls in Kafka, faust or pyarrow.
"""

from evaluators.base import Evaluator, Outcome, Result
from evaluators.config import EvaluatorConfig, load_config
from evaluators.decorator import FunctionEvaluator, evaluator
from evaluators.exceptions import (
    ConfigError,
    EvaluatorDefinitionError,
    EvaluatorError,
    UnknownEvaluatorError,
)
from evaluators.registry import Registry, discover
from evaluators.runner import ConfiguredEvaluator, EvaluationRunner, build_evaluators

__all__ = [
    "ConfigError",
    "ConfiguredEvaluator",
    "EvaluationRunner",
    "Evaluator",
    "EvaluatorConfig",
    "EvaluatorDefinitionError",
    "EvaluatorError",
    "FunctionEvaluator",
    "Outcome",
    "Registry",
    "Result",
    "UnknownEvaluatorError",
    "build_evaluators",
    "discover",
    "evaluator",
    "load_config",
]
