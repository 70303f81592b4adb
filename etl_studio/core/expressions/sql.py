"""Render a checked expression as SQL for PostgreSQL, MySQL/MariaDB or SQLite (in-database execution).

sqlglot does most of the dialect work; what is rewritten here is where the engines would
otherwise compute something different from the pandas evaluator: LIKE must stay
case-sensitive everywhere, integer division must truncate, concat() must skip NULLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from etl_studio.core.expressions.compiler import _resolve
from etl_studio.core.expressions.errors import SqlRenderError
from etl_studio.core.expressions.parser import span
from etl_studio.core.types import DataType, parse_type

DIALECTS = ("postgres", "mysql", "sqlite")
_SQLGLOT_NAME = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
_STRFTIME = {"YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M", "SECOND": "%S", "DOY": "%j", "DOW": "%w"}
_MYSQL_PARTS = {"DOW": "DAYOFWEEK({}) - 1", "DOY": "DAYOFYEAR({})", "ISODOW": "WEEKDAY({}) + 1", "WEEK": "WEEK({}, 3)"}


def render(tree: exp.Expression, text: str, dialect: str, column_types: Mapping[str, Any], columns: frozenset[str]) -> str:
    """The expression as SQL text; parameters are written ``:name`` (SQLAlchemy ``text()`` binds)."""
    target = _SQLGLOT_NAME.get(dialect.lower())
    if target is None:
        raise SqlRenderError(f"unknown SQL dialect '{dialect}' (use one of: {', '.join(DIALECTS)})", 0, len(text))
    types = {name: _as_type(t) for name, t in column_types.items()}
    renderer = _Renderer(text, target, types, sorted(columns))
    return renderer.rewrite(tree.copy()).sql(dialect=target)


def _as_type(t: Any) -> DataType | None:
    if isinstance(t, DataType):
        return t
    try:
        return parse_type(str(t))
    except ValueError:
        return None


class _Renderer:
    def __init__(self, text: str, dialect: str, types: Mapping[str, DataType | None], columns: list[str]) -> None:
        self.text = text
        self.dialect = dialect
        self.types = types
        self.columns = columns

    def fail(self, node: exp.Expression, message: str) -> SqlRenderError:
        start, end = span(node, self.text)
        return SqlRenderError(message, start, end)

    def rewrite(self, node: exp.Expression) -> exp.Expression:  # noqa: PLR0911 - one branch per construct
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, self.rewrite(value))
            elif isinstance(value, list):
                node.set(key, [self.rewrite(v) if isinstance(v, exp.Expression) else v for v in value])
        if isinstance(node, exp.Column):
            name = _resolve(node.name, self.columns) or node.name
            return exp.column(exp.to_identifier(name, quoted=True))
        if isinstance(node, exp.Placeholder):
            return exp.var(f":{node.name}")
        if isinstance(node, exp.Like | exp.ILike):
            return self.like(node)
        if isinstance(node, exp.Div) and self.dialect == "mysql" and self.kind(node.left) == self.kind(node.right) == "int":
            return exp.IntDiv(this=node.left, expression=node.right)
        if isinstance(node, exp.Add | exp.Sub):
            return self.moment_arithmetic(node)
        if isinstance(node, exp.Concat) and self.dialect != "mysql":
            parts = [exp.Coalesce(this=e, expressions=[exp.Literal.string("")]) for e in node.expressions]
            joined: exp.Expression = parts[0]
            for part in parts[1:]:
                joined = exp.DPipe(this=joined, expression=part, safe=True)
            return exp.Paren(this=joined)
        if isinstance(node, exp.RegexpLike):
            return self.regexp_like(node)
        if isinstance(node, exp.RegexpReplace):
            return self.regexp_replace(node)
        if isinstance(node, exp.Year | exp.Month | exp.Day):
            return self.date_part(type(node).__name__.upper(), node.this, node)
        if isinstance(node, exp.Extract):
            return self.date_part(node.this.name.upper(), node.expression, node)
        if isinstance(node, exp.Cast) and self.dialect == "sqlite":
            return self.sqlite_cast(node)
        return node

    # ------------------------------------------------------------ LIKE: case-sensitive on every engine

    def like(self, node: exp.Like | exp.ILike) -> exp.Expression:
        negate = bool(node.args.get("negate"))
        subject, pattern = node.this, node.expression
        if isinstance(node, exp.ILike):
            if self.dialect == "postgres":
                result: exp.Expression = exp.ILike(this=subject, expression=pattern)
            else:
                result = exp.Like(this=exp.Lower(this=subject), expression=exp.Lower(this=pattern))
                if self.dialect == "sqlite":
                    result = exp.Escape(this=result, expression=exp.Literal.string("\\"))
        elif self.dialect == "postgres":
            result = exp.Like(this=subject, expression=pattern)
        elif self.dialect == "mysql":
            # the column's collation is usually case-insensitive; a binary collation is not
            result = exp.Like(this=exp.Collate(this=subject, expression=exp.var("utf8mb4_bin")), expression=pattern)
        else:
            # SQLite's LIKE ignores ASCII case; GLOB is case-sensitive
            result = exp.Glob(this=subject, expression=self.glob_pattern(pattern))
        return exp.Not(this=exp.Paren(this=result)) if negate else result

    def glob_pattern(self, pattern: exp.Expression) -> exp.Expression:
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            return exp.Literal.string(like_to_glob(pattern.this))
        converted = pattern
        for old, new in (("[", "[[]"), ("*", "[*]"), ("?", "[?]"), ("%", "*"), ("_", "?")):
            converted = exp.Anonymous(this="REPLACE", expressions=[converted, exp.Literal.string(old), exp.Literal.string(new)])
        return converted

    # ------------------------------------------------------------ regular expressions

    def regexp_like(self, node: exp.RegexpLike) -> exp.Expression:
        if self.dialect == "mysql":
            return exp.RegexpLike(this=node.this, expression=_case_sensitive(node.expression))
        return node

    def regexp_replace(self, node: exp.RegexpReplace) -> exp.Expression:
        if self.dialect == "sqlite":
            raise self.fail(node, "regexp_replace cannot run inside SQLite")
        if self.dialect == "postgres":
            # our regexp_replace replaces every match; PostgreSQL's only the first without 'g'
            return exp.Anonymous(this="REGEXP_REPLACE", expressions=[node.this, node.expression, node.args["replacement"], exp.Literal.string("g")])
        return exp.Anonymous(this="REGEXP_REPLACE", expressions=[node.this, _case_sensitive(node.expression), node.args["replacement"]])

    # ------------------------------------------------------------ dates

    def date_part(self, part: str, value: exp.Expression, node: exp.Expression) -> exp.Expression:
        if self.dialect == "postgres":
            return exp.Cast(this=exp.Extract(this=exp.var(part), expression=value), to=exp.DataType.build("INT"))
        if self.dialect == "mysql":
            if part in _MYSQL_PARTS:
                return exp.maybe_parse(_MYSQL_PARTS[part].format(value.sql(dialect="mysql")), dialect="mysql")
            return exp.Extract(this=exp.var(part), expression=value)
        if part not in _STRFTIME:
            raise self.fail(node, f"extract({part.lower()}) cannot run inside SQLite")
        strftime = exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string(_STRFTIME[part]), value])
        return exp.Cast(this=strftime, to=exp.DataType.build("INTEGER"))

    def moment_arithmetic(self, node: exp.Add | exp.Sub) -> exp.Expression:
        left, right = node.left, node.right
        if isinstance(node, exp.Add) and (isinstance(left, exp.Interval) or self.kind(left) == "int" and self.kind(right) == "date"):
            left, right = right, left
        sign = "+" if isinstance(node, exp.Add) else "-"
        if isinstance(right, exp.Interval):
            amount, unit = right.this.name, (right.args.get("unit").name if right.args.get("unit") else "")
            if self.dialect == "sqlite":
                modifier = f"{sign}{amount} {unit}".strip().lower()
                return exp.Anonymous(this="DATETIME", expressions=[left, exp.Literal.string(modifier)])
            return node
        if self.kind(left) == "date" and self.kind(right) == "int":
            if self.dialect == "mysql":
                func = "DATE_ADD" if sign == "+" else "DATE_SUB"
                return exp.maybe_parse(f"{func}({left.sql(dialect='mysql')}, INTERVAL {right.sql(dialect='mysql')} DAY)", dialect="mysql")
            if self.dialect == "sqlite":
                days = exp.DPipe(this=exp.Literal.string(sign), expression=exp.DPipe(this=right, expression=exp.Literal.string(" days")))
                return exp.Anonymous(this="DATE", expressions=[left, days])
        if isinstance(node, exp.Sub) and self.kind(left) == "date" and self.kind(right) == "date":
            if self.dialect == "mysql":
                return exp.Anonymous(this="DATEDIFF", expressions=[left, right])
            if self.dialect == "sqlite":
                diff = exp.Sub(this=exp.Anonymous(this="JULIANDAY", expressions=[left]), expression=exp.Anonymous(this="JULIANDAY", expressions=[right]))
                return exp.Cast(this=diff, to=exp.DataType.build("INTEGER"))
        return node

    def sqlite_cast(self, node: exp.Cast) -> exp.Expression:
        to = node.to
        if to.this == exp.DataType.Type.DECIMAL:
            params = [int(p.this.name) for p in to.expressions if isinstance(p.this, exp.Literal)]
            as_number = exp.Cast(this=node.this, to=exp.DataType.build("NUMERIC"))
            if len(params) == 2:
                return exp.Round(this=as_number, decimals=exp.Literal.number(params[1]))
            return as_number
        if to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR):
            return exp.Cast(this=node.this, to=exp.DataType.build("TEXT"))
        return node

    # ------------------------------------------------------------ what a part holds, when it can be known

    def kind(self, node: exp.Expression) -> str | None:  # noqa: PLR0911
        if isinstance(node, exp.Paren):
            return self.kind(node.this)
        if isinstance(node, exp.Literal):
            return None if node.is_string else ("int" if node.this.lstrip("-").isdigit() else "decimal")
        if isinstance(node, exp.Column):
            t = self.types.get(node.name) or self.types.get(_resolve(node.name, list(self.types)) or "")
            return {"integer": "int", "date": "date", "decimal": "decimal", "float": "float"}.get(t.name) if t else None
        if isinstance(node, exp.Cast):
            name = node.to.this
            if name in (exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT):
                return "int"
            return "date" if name == exp.DataType.Type.DATE else None
        if isinstance(node, exp.CurrentDate):
            return "date"
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv | exp.Neg):
            kinds = {self.kind(n) for n in node.iter_expressions()}
            if kinds == {"int"}:
                return "int"
            if isinstance(node, exp.Add | exp.Sub) and kinds == {"date", "int"}:
                return "date"
        if isinstance(node, exp.Length | exp.Year | exp.Month | exp.Day | exp.Extract):
            return "int"
        return None


def _case_sensitive(pattern: exp.Expression) -> exp.Expression:
    # MySQL (ICU) and MariaDB (PCRE) both honour an inline (?-i): matching stays case-sensitive
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.Literal.string("(?-i)" + pattern.this)
    return exp.Anonymous(this="CONCAT", expressions=[exp.Literal.string("(?-i)"), pattern])


def like_to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``, backslash escapes) as the same GLOB pattern."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)
