"""The expression language: SQL expressions parsed by sqlglot, checked, and evaluated over pandas columns."""

from etl_studio.core.expressions.compiled import CompiledExpression, EvalResult, check_expression, compile_expression
from etl_studio.core.expressions.errors import ExpressionError, SqlRenderError
from etl_studio.core.expressions.functions import FUNCTION_NAMES

__all__ = [
    "FUNCTION_NAMES",
    "CompiledExpression",
    "EvalResult",
    "ExpressionError",
    "SqlRenderError",
    "check_expression",
    "compile_expression",
]
