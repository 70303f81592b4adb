"""Maps the mapping's DataType to a SQLAlchemy column type per dialect, and judges an existing column's type."""

from __future__ import annotations

import sys

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from etl_studio.core.types import DataType

# MySQL/MariaDB cannot index TEXT without a prefix length, so a string that is part of a
# key is a VARCHAR; 255 characters of utf8mb4 stays under InnoDB's 3072-byte key limit.
MYSQL_KEY_STRING_LENGTH = 255


def sql_type(dtype: DataType, dialect_name: str, *, key: bool = False) -> TypeEngine[object]:
    """The column type a created table gets for ``dtype`` on ``dialect_name``."""
    is_mysql = dialect_name in ("mysql", "mariadb")
    if is_mysql:
        from sqlalchemy.dialects import mysql  # 60 ms of import a PostgreSQL or SQLite load never needs
    if dtype.name == "string":
        if is_mysql:
            return sa.String(MYSQL_KEY_STRING_LENGTH) if key else mysql.LONGTEXT()
        return sa.Text()
    if dtype.name == "integer":
        return sa.BigInteger()
    if dtype.name == "decimal":
        return sa.Numeric(dtype.precision, dtype.scale, asdecimal=True)
    if dtype.name == "float":
        return sa.Double()
    if dtype.name == "boolean":
        return sa.Boolean()
    if dtype.name == "date":
        return sa.Date()
    if is_mysql:
        # DATETIME without a fractional part would silently cut microseconds off.
        return mysql.DATETIME(fsp=6)
    return sa.DateTime()


def type_family(type_: TypeEngine[object]) -> str | None:
    """The DataType name an existing column's type holds ('string', 'integer' ...), or None if unknown."""
    # A MySQL type exists only once its dialect was imported (by its connection): not imported here.
    mysql = sys.modules.get("sqlalchemy.dialects.mysql")
    if mysql is not None and isinstance(type_, mysql.TINYINT) and getattr(type_, "display_width", None) == 1:
        return "boolean"  # MySQL/MariaDB spell BOOLEAN as TINYINT(1)
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.Integer):
        return "integer"
    # Float derives from Numeric in SQLAlchemy, so it is asked first.
    if isinstance(type_, sa.Float):
        return "float"
    if isinstance(type_, sa.Numeric):
        return "decimal"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.Date):
        return "date"
    if isinstance(type_, sa.String):
        return "string"
    return None


def type_fits(dtype: DataType, type_: TypeEngine[object]) -> bool:
    """True when every value of ``dtype`` can be stored in a column of ``type_`` without loss.

    Width is not judged for integers and strings (a value too large is the database's
    error to report, row by row); decimals are judged on precision and scale because a
    narrower scale rounds silently.
    """
    family = type_family(type_)
    if family != dtype.name:
        return False
    if dtype.name == "decimal":
        precision = getattr(type_, "precision", None)
        scale = getattr(type_, "scale", None)
        if precision is None:
            return True  # unconstrained NUMERIC holds anything
        scale = scale or 0
        want_scale = dtype.scale or 0
        want_integer_digits = (dtype.precision or 0) - want_scale
        return scale >= want_scale and precision - scale >= want_integer_digits
    return True


def describe_sql_type(type_: TypeEngine[object], dialect: Dialect) -> str:
    """The type as the database spells it, for messages (``NUMERIC(10, 2)``)."""
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - reflected oddities (NullType ...) still need a name
        return str(type_) if not isinstance(type_, sa.types.NullType) else "an unknown type"
