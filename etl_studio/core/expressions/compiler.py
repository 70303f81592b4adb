"""Turn a sqlglot tree into a tree of vectorised evaluators, collecting every problem (columns, functions, arity)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from etl_studio.core import casting
from etl_studio.core.expressions import functions as fn
from etl_studio.core.expressions.errors import ExpressionError
from etl_studio.core.expressions.operators import arithmetic, compare, negate, to_float
from etl_studio.core.expressions.parser import span
from etl_studio.core.expressions.values import (
    NUMERIC,
    EvalTypeError,
    Frame,
    Kind,
    Value,
    arrow,
    constant,
    from_arrow,
    nulls,
    tighten_decimal,
    to_bool,
    to_date,
    to_number,
    to_text,
    to_timestamp,
)
from etl_studio.core.types import MAX_DECIMAL_PRECISION

Evaluator = Callable[[Frame], Value]

_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_SYNTAX_NAMES = {exp.Select: "SELECT", exp.Star: "*", exp.Alias: "an alias (AS name)", exp.Subquery: "a subquery"}


def _missing(frame: Frame) -> Value:
    return nulls("null", frame.index)


@dataclass
class Compiler:
    text: str
    columns: Sequence[str]
    params: Sequence[str]
    problems: list[ExpressionError] = field(default_factory=list)
    referenced: dict[str, None] = field(default_factory=dict)  # ordered set of resolved column names
    referenced_params: dict[str, None] = field(default_factory=dict)

    # ------------------------------------------------------------ helpers

    def problem(self, node: exp.Expression, message: str, suggestion: str | None = None) -> Evaluator:
        start, end = span(node, self.text)
        self.problems.append(ExpressionError(message, start, end, suggestion))
        return _missing

    def guarded(self, node: exp.Expression, run: Evaluator) -> Evaluator:
        """Type errors found only when the data arrives are still reported at the right place."""
        start, end = span(node, self.text)

        def evaluate(frame: Frame) -> Value:
            try:
                return run(frame)
            except EvalTypeError as exc:
                raise ExpressionError(str(exc), start, end) from None

        return evaluate

    def constant_arg(self, node: exp.Expression, what: str) -> Callable[[Frame], object]:
        """A part evaluated once (not per row): it may use literals and parameters, not columns."""
        if any(isinstance(part, exp.Column) for part in node.walk()):
            self.problem(node, f"{what} must be a constant (a literal or :parameter), not a column")
            return lambda frame: None
        inner = self.compile(node)
        return lambda frame: fn.python_value(inner(frame.single()))

    # ------------------------------------------------------------ dispatch

    def compile(self, node: exp.Expression) -> Evaluator:  # noqa: PLR0911, PLR0912 - one branch per syntax form
        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Placeholder):
            return self.placeholder(node)
        if isinstance(node, exp.Literal):
            return self.literal(node)
        if isinstance(node, exp.Boolean):
            flag = bool(node.this)
            return lambda frame: constant(flag, frame.index)
        if isinstance(node, exp.Null):
            return lambda frame: nulls("null", frame.index)
        if type(node) in _ARITHMETIC:
            return self.binary(node, lambda op, a, b, frame: arithmetic(op, a, b, frame), _ARITHMETIC[type(node)])
        if type(node) in _COMPARISONS:
            return self.binary(node, lambda op, a, b, frame: compare(op, a, b, frame), _COMPARISONS[type(node)])
        if isinstance(node, exp.Neg):
            inner = self.compile(node.this)
            return self.guarded(node, lambda frame: negate(inner(frame), frame))
        if isinstance(node, exp.And | exp.Or):
            return self.logic(node)
        if isinstance(node, exp.Not):
            inner = self.compile(node.this)
            return self.guarded(node, lambda frame: _not(to_bool(inner(frame), frame)))
        if isinstance(node, exp.In):
            return self.in_list(node)
        if isinstance(node, exp.Between):
            return self.between(node)
        if isinstance(node, exp.Like | exp.ILike):
            return self.like(node)
        if isinstance(node, exp.Is):
            return self.is_(node)
        if isinstance(node, exp.Case):
            return self.case(node)
        if isinstance(node, exp.Coalesce):
            return self.coalesce(node)
        if isinstance(node, exp.Cast) and type(node) is exp.Cast:
            return self.cast(node)
        if isinstance(node, exp.DPipe):
            return self.binary(node, lambda op, a, b, frame: fn.pipe(a, b), "||")
        if isinstance(node, exp.Concat):
            parts = [self.compile(e) for e in node.expressions]
            return self.guarded(node, lambda frame: fn.concat(frame, [p(frame) for p in parts]))
        if isinstance(node, exp.Interval):
            return self.interval(node)
        if isinstance(node, exp.Extract):
            return self.extract(node)
        if type(node) in fn.FUNCTIONS:
            return self.function(node, fn.FUNCTIONS[type(node)])
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else self._typed_name(node)
            return self.unknown_function(node, name)
        what = _SYNTAX_NAMES.get(type(node), node.key.upper())
        return self.problem(node, f"{what} is not allowed in an expression")

    # ------------------------------------------------------------ leaves

    def column(self, node: exp.Column) -> Evaluator:
        if node.table:
            return self.problem(node, f"write the column name alone, without '{node.table}.'")
        name = node.name
        resolved = _resolve(name, self.columns)
        if resolved is None:
            return self.problem(node, f"unknown column '{name}'", _suggest(name, self.columns))
        self.referenced[resolved] = None
        return lambda frame: frame.column(resolved)

    def placeholder(self, node: exp.Placeholder) -> Evaluator:
        name = node.name
        if not name:
            return self.problem(node, "parameters need a name, like :run_date")
        resolved = _resolve(name, self.params)
        if resolved is None:
            return self.problem(node, f"unknown parameter ':{name}'", _suggest(name, self.params, prefix=":"))
        self.referenced_params[resolved] = None
        return lambda frame: constant(frame.run.params[resolved], frame.index)

    def literal(self, node: exp.Literal) -> Evaluator:
        if node.is_string:
            text = node.this
            return lambda frame: constant(text, frame.index)
        parsed = casting.parse_numbers(pa.array([node.this]))
        if parsed.bad.any():
            return self.problem(node, f"cannot read the number {node.this}")
        scalar = parsed.values[0]
        kind: Kind = "int" if pa.types.is_integer(scalar.type) else "decimal"

        def evaluate(frame: Frame) -> Value:
            n = len(frame.index)
            return from_arrow(pa.repeat(scalar, n) if n else pa.array([], scalar.type), kind, frame.index)

        return evaluate

    def interval(self, node: exp.Interval) -> Evaluator:
        unit = node.args.get("unit")
        text = f"{node.this.name} {unit.name if unit is not None else ''}".strip()
        try:
            offset = fn.interval(text)
        except EvalTypeError as exc:
            return self.problem(node, str(exc))
        return lambda frame: fn.interval_value(offset, frame.index)

    # ------------------------------------------------------------ operators

    def binary(self, node: exp.Expression, op_fn: Callable[[str, Value, Value, Frame], Value], op: str) -> Evaluator:
        left, right = self.compile(node.left), self.compile(node.right)
        return self.guarded(node, lambda frame: op_fn(op, left(frame), right(frame), frame))

    def logic(self, node: exp.And | exp.Or) -> Evaluator:
        left, right = self.compile(node.left), self.compile(node.right)
        is_and = isinstance(node, exp.And)

        def evaluate(frame: Frame) -> Value:
            lhs = to_bool(left(frame), frame).series
            # only rows the left side leaves open are evaluated on the right, so a guard such
            # as "qty <> 0 AND total / qty > 2" reports no division by zero
            open_rows = lhs.ne(not is_and).fillna(True)
            rest = frame.subset(open_rows)
            rhs = to_bool(right(rest), rest).series.reindex(frame.index)
            return Value((lhs & rhs) if is_and else (lhs | rhs), "bool")

        return self.guarded(node, evaluate)

    def in_list(self, node: exp.In) -> Evaluator:
        if node.args.get("query") is not None or node.args.get("unnest") is not None or not node.expressions:
            return self.problem(node, "IN needs a list of values: x IN (1, 2, 3)")
        subject = self.compile(node.this)
        options = [self.compile(e) for e in node.expressions]

        def evaluate(frame: Frame) -> Value:
            value = subject(frame)
            result = None
            for option in options:
                hit = compare("=", value, option(frame), frame).series
                result = hit if result is None else (result | hit)
            return Value(result, "bool")

        return self.guarded(node, evaluate)

    def between(self, node: exp.Between) -> Evaluator:
        subject, low, high = self.compile(node.this), self.compile(node.args["low"]), self.compile(node.args["high"])

        def evaluate(frame: Frame) -> Value:
            value = subject(frame)
            return Value(compare(">=", value, low(frame), frame).series & compare("<=", value, high(frame), frame).series, "bool")

        return self.guarded(node, evaluate)

    def like(self, node: exp.Like | exp.ILike) -> Evaluator:
        subject = self.compile(node.this)
        pattern = self.constant_arg(node.expression, "the LIKE pattern")
        ignore_case = isinstance(node, exp.ILike)
        negated = bool(node.args.get("negate"))

        def evaluate(frame: Frame) -> Value:
            text = to_text(subject(frame))
            wanted = pattern(frame)
            if wanted is None:
                return nulls("bool", frame.index)
            # Arrow's LIKE: % and _ wildcards, backslash escapes, case-sensitive unless ILIKE
            matched = pc.match_like(arrow(text), str(wanted), ignore_case=ignore_case)
            result = from_arrow(matched, "bool", frame.index)
            return _not(result) if negated else result

        return self.guarded(node, evaluate)

    def is_(self, node: exp.Is) -> Evaluator:
        subject = self.compile(node.this)
        target = node.expression
        negated = bool(node.args.get("negate"))
        if isinstance(target, exp.Null):
            test: Callable[[Value, Frame], pd.Series] = lambda v, frame: v.series.isna()
        elif isinstance(target, exp.Boolean):
            flag = bool(target.this)
            test = lambda v, frame: to_bool(v, frame).series.eq(flag).fillna(False)
        else:
            return self.problem(node, "IS must be followed by NULL, TRUE or FALSE")

        def evaluate(frame: Frame) -> Value:
            hit = test(subject(frame), frame).astype("boolean")
            return Value(~hit if negated else hit, "bool")

        return self.guarded(node, evaluate)

    # ------------------------------------------------------------ lazy forms

    def case(self, node: exp.Case) -> Evaluator:
        operand = self.compile(node.this) if node.this is not None else None
        branches = [(self.compile(b.this), self.compile(b.args["true"])) for b in node.args.get("ifs") or []]
        default = self.compile(node.args["default"]) if node.args.get("default") is not None else None

        def evaluate(frame: Frame) -> Value:
            undecided = frame
            parts: list[Value] = []
            for condition, result in branches:
                if not len(undecided.index):
                    break
                test = condition(undecided)
                if operand is not None:
                    test = compare("=", operand(undecided), test, undecided)
                hit = to_bool(test, undecided).series.fillna(False).astype(bool)
                # each branch sees only its own rows: an error in a branch not taken is no error
                parts.append(result(undecided.subset(hit)))
                undecided = undecided.subset(~hit)
            if default is not None and len(undecided.index):
                parts.append(default(undecided))
            return combine(parts, frame)

        return self.guarded(node, evaluate)

    def coalesce(self, node: exp.Coalesce) -> Evaluator:
        options = [self.compile(node.this)] + [self.compile(e) for e in node.expressions]

        def evaluate(frame: Frame) -> Value:
            parts: list[Value] = []
            pending = frame
            for option in options:
                if not len(pending.index):
                    break
                value = option(pending)
                found = value.series.notna()
                parts.append(Value(value.series[found.to_numpy()], value.kind, interval=value.interval))
                pending = pending.subset(~found)
            return combine(parts, frame)

        return self.guarded(node, evaluate)

    # ------------------------------------------------------------ functions

    def cast(self, node: exp.Cast) -> Evaluator:
        target = fn.cast_target(node.to)
        inner = self.compile(node.this)
        if target is None:
            return self.problem(node.to, f"unsupported type '{node.to.sql(dialect='postgres').lower()}' (use text, integer, numeric(p,s), float, boolean, date or timestamp)")
        return self.guarded(node, lambda frame: fn.cast(inner(frame), target, frame))

    def extract(self, node: exp.Extract) -> Evaluator:
        part = node.this.name.upper()
        if part not in {p.upper() for p in fn.DATE_PARTS}:
            return self.problem(node.this, f"cannot extract '{node.this.name}' (use one of: {', '.join(fn.DATE_PARTS)})")
        inner = self.compile(node.expression)
        return self.guarded(node, lambda frame: fn.date_part(part, inner(frame), frame))

    def function(self, node: exp.Expression, spec: fn.FunctionSpec) -> Evaluator:
        name = self._typed_name(node)
        given = [key for key, value in node.args.items() if isinstance(value, exp.Expression) or (isinstance(value, list) and value)]
        extra = [key for key in given if key not in spec.args]
        missing = [key for key in spec.args[: spec.required] if key not in given]
        if extra or missing:
            expected = str(spec.required) if spec.required == len(spec.args) else f"{spec.required} to {len(spec.args)}"
            return self.problem(node, f"wrong number of arguments to {name}(): it takes {expected}")
        compiled: dict[str, Callable[[Frame], object]] = {}
        for key in spec.args:
            arg = node.args.get(key)
            if arg is None:
                continue
            if key in spec.constant:
                compiled[key] = self.constant_arg(arg, f"argument {spec.args.index(key) + 1} of {name}()")
            else:
                compiled[key] = self.compile(arg)

        def evaluate(frame: Frame) -> Value:
            values = {key: part(frame) for key, part in compiled.items()}
            return spec.impl(frame, node, **values)

        return self.guarded(node, evaluate)

    def unknown_function(self, node: exp.Expression, name: str) -> Evaluator:
        for arg in node.iter_expressions():
            self.compile(arg)  # still report unknown columns inside it
        return self.problem(node, f"unknown function '{name}'", _suggest(name, fn.FUNCTION_NAMES))

    def _typed_name(self, node: exp.Expression) -> str:
        meta = node.meta if node._meta else {}  # noqa: SLF001
        if "start" in meta and "end" in meta:
            typed = self.text[meta["start"] : meta["end"] + 1]
            if re.fullmatch(r"\w+", typed):
                return typed.lower()
        return node.sql_name().lower() if hasattr(node, "sql_name") else node.key


# ---------------------------------------------------------------- helpers


def _not(value: Value) -> Value:
    return Value(~value.series.astype("boolean"), "bool")


def _resolve(name: str, known: Sequence[str]) -> str | None:
    """Exact match first, then the only case-insensitive one (two of those is ambiguous: no match)."""
    if name in known:
        return name
    folded = [k for k in known if k.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _suggest(name: str, known: Sequence[str], prefix: str = "") -> str | None:
    by_fold = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_fold), n=1, cutoff=0.6)
    return prefix + by_fold[close[0]] if close else None


def combine(parts: list[Value], frame: Frame) -> Value:
    """Branch results (each over some rows) as one column over the frame, in one common kind."""
    kinds = {p.kind for p in parts} - {"null"}
    if "interval" in kinds:
        raise EvalTypeError("an interval cannot be a result; add it to a date or timestamp")
    if not kinds:
        return nulls("null", frame.index)
    if "text" in kinds and kinds & set(NUMERIC):
        # Text beside numbers is read as numbers first, so that the common kind comes
        # from what the text holds ('0.05' is a decimal), not from the other branches.
        parts = [to_number(p, frame) if p.kind == "text" else p for p in parts]
        kinds = {p.kind for p in parts} - {"null"}
    kind = _common_kind(kinds)
    converted = [_convert(p, kind, frame) for p in parts]
    if kind == "decimal":
        converted = _same_decimal_type(converted)
    dtype = converted[0].series.dtype
    pieces = [c.series.astype(dtype) for c in converted if len(c.series)]
    if not pieces:
        return nulls(kind, frame.index)
    if kind in _PLACED_KINDS:
        placed = _placed(pieces, kind, frame.index)
        if placed is not None:
            return Value(placed, kind)
    joined = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
    return Value(joined.reindex(frame.index), kind)


# Kinds whose values go through Arrow and back unchanged (from_arrow gives the kind's own dtype).
# Not float: Float64 holds NaN apart from NULL, and to_arrow reads NaN as NULL.
_PLACED_KINDS = frozenset({"int", "decimal", "bool", "text", "date", "timestamp"})


def _placed(pieces: list[pd.Series], kind: Kind, index: pd.Index) -> pd.Series | None:
    """The pieces' values put at their rows of ``index`` (NULL where no piece has the row), by position;
    None when ``index`` is not strictly increasing (the caller aligns by label then).

    The same as concatenating and reindexing by label, without hashing the labels: a frame's
    rows are an increasing subset of the expression's row numbers, and each piece holds some
    of them, so a binary search finds every piece row's position.
    """
    if isinstance(index, pd.RangeIndex) and index.step == 1:
        positions = np.concatenate([piece.index.to_numpy() - index.start for piece in pieces])  # labels are positions
    else:
        labels = index.to_numpy()
        if labels.dtype.kind not in "iu" or (len(labels) > 1 and not bool((np.diff(labels) > 0).all())):
            return None
        positions = np.concatenate([np.searchsorted(labels, piece.index.to_numpy()) for piece in pieces])
    values = pa.concat_arrays([casting.to_arrow(piece) for piece in pieces]) if len(pieces) > 1 else casting.to_arrow(pieces[0])
    source_row = np.full(len(index), -1, dtype=np.int64)
    source_row[positions] = np.arange(len(positions), dtype=np.int64)
    taken = values.take(pa.array(source_row, mask=source_row < 0))
    return from_arrow(taken, kind, index).series


def _common_kind(kinds: set[Kind]) -> Kind:
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {*NUMERIC, "text"}:
        return "float" if "float" in kinds else "decimal" if "decimal" in kinds else "int"
    if kinds <= {"date", "timestamp", "text"}:
        return "timestamp" if "timestamp" in kinds else "date"
    if kinds <= {"bool", "text"}:
        return "bool"
    return "text"


def _convert(value: Value, kind: Kind, frame: Frame) -> Value:
    if value.kind == kind:
        return value
    if value.kind == "null":
        return nulls(kind, value.series.index)
    if kind == "text":
        return to_text(value)
    if kind == "bool":
        return to_bool(value, frame)
    if kind == "date":
        return to_date(value, frame)
    if kind == "timestamp":
        return to_timestamp(value, frame)
    number = to_number(value, frame)
    arr = arrow(number)
    if kind == "float":
        return from_arrow(to_float(arr), "float", value.series.index)
    if kind == "decimal" and pa.types.is_integer(arr.type):
        return from_arrow(pc.cast(arr, pa.decimal128(19, 0)), "decimal", value.series.index)
    return number


def _same_decimal_type(values: list[Value]) -> list[Value]:
    arrays = [tighten_decimal(arrow(v)) for v in values]
    scale = max(a.type.scale for a in arrays)
    whole = max(a.type.precision - a.type.scale for a in arrays)
    kind = pa.decimal128 if whole + scale <= MAX_DECIMAL_PRECISION else pa.decimal256
    target = kind(max(whole + scale, 1), scale)
    return [from_arrow(pc.cast(a, target), "decimal", v.series.index) for a, v in zip(arrays, values, strict=True)]
