"""The 'aggregate' step: GROUP BY with count/sum/mean/min/max/count_distinct over the whole run."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ConfigDict, Field, field_validator, model_validator

from etl_studio.core.casting import parse_numbers, text_array
from etl_studio.core.errors import DataError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._columns import is_text, require_columns
from etl_studio.core.steps.base import Step
from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN, error_free

AggregateFunction = Literal["count", "sum", "mean", "min", "max", "count_distinct"]
# A mean of exact decimals keeps this many digits beyond the input's scale, rounded half away from zero.
MEAN_EXTRA_SCALE = 6


class Aggregation(PluginConfig):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    column: str | None = Field(default=None, description="Column to aggregate; empty only for 'count' (count rows).")
    func: AggregateFunction = Field(description="count, sum, mean, min, max or count_distinct. NULLs are skipped, as in SQL.")
    as_: str | None = Field(default=None, alias="as", description="Name of the result column; empty: func_column.")

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregation:
        if self.column is None and self.func != "count":
            raise ValueError(f"'{self.func}' needs a column")
        return self

    @property
    def output_name(self) -> str:
        if self.as_:
            return self.as_
        return f"{self.func}_{self.column}" if self.column else "count"


class AggregateConfig(PluginConfig):
    group_by: list[str] = Field(default_factory=list, description="Columns whose values form the groups; empty: one row for all rows.")
    aggregations: list[Aggregation] = Field(min_length=1, description="What to compute per group.")

    @field_validator("aggregations")
    @classmethod
    def _distinct_names(cls, value: list[Aggregation]) -> list[Aggregation]:
        names = [a.output_name for a in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two aggregations are named '{name}'; give one a different 'as'")
        return value

    @model_validator(mode="after")
    def _no_clash_with_groups(self) -> AggregateConfig:
        for agg in self.aggregations:
            if agg.output_name in self.group_by:
                raise ValueError(f"aggregation name '{agg.output_name}' is also a group_by column")
        return self


@steps.register("aggregate")
class Aggregate(Step):
    """Each chunk is reduced to partial results per group, merged into the run's state, so memory
    grows with the number of groups (and, for count_distinct, distinct values), not rows.
    Text numbers are summed exactly as decimals; text that is not a number stops the run."""

    config_model = AggregateConfig
    title = "Aggregate"
    description = "Group rows and compute count, sum, mean, min, max or count of distinct values per group."
    needs_all_rows = True
    config: AggregateConfig

    def __init__(self, config: AggregateConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        # group key tuple -> one partial per aggregation (see _partial / _combine)
        self._groups: dict[tuple[Any, ...], list[Any]] = {}
        self._key_dtypes: dict[str, Any] = {}
        self._value_kinds: dict[int, str] = {}  # aggregation index -> "decimal" | "int" | "float" | "other"
        self._scales: dict[int, int] = {}
        self._dtypes: dict[int, Any] = {}
        self.error_rows = 0  # rows left out because an earlier step marked them as failed  # min/max results keep their column's type

    def output_columns(self, columns: list[str]) -> list[str]:
        cfg = self.config
        require_columns("aggregate", [*cfg.group_by, *(a.column for a in cfg.aggregations if a.column)], columns)
        return [*cfg.group_by, *(a.output_name for a in cfg.aggregations)]

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        cfg = self.config
        self.output_columns(list(chunk.columns))
        if not self._key_dtypes:
            self._key_dtypes = {c: chunk[c].dtype for c in cfg.group_by}
        ok = error_free(chunk)
        if not ok.all():
            # A row an earlier step could not compute has no trustworthy values; it cannot travel
            # on either (aggregate rows are groups, not source rows), so it is counted and logged.
            failed = chunk.loc[~ok, ROW_ERROR_COLUMN]
            self.error_rows += len(failed)
            self.context.logger.warning(
                "aggregate left out %d row(s) that an earlier step could not compute; first: row %s: %s",
                len(failed), failed.index[0], failed.iloc[0],
            )
            chunk = chunk[ok]
        work = pd.DataFrame(index=pd.RangeIndex(len(chunk)))
        keys = [f"k{i}" for i in range(len(cfg.group_by))]
        for name, col in zip(keys, cfg.group_by):
            work[name] = chunk[col].to_numpy(dtype=object)
        work = work.astype(object).where(work.notna(), None)  # NULL keys form one group, as GROUP BY does
        value_cols = self._values(chunk, work)
        if not keys:
            work["_all"] = 0
            keys = ["_all"]
        grouped = work.groupby(keys, sort=False, dropna=False)
        partials: list[pd.Series] = []
        for i, agg in enumerate(cfg.aggregations):
            partials.append(self._partial(agg, grouped, value_cols.get(i)))
        table = pd.concat(partials, axis=1, keys=range(len(partials)))
        for key, row in zip(table.index.tolist(), table.itertuples(index=False, name=None)):  # per group, not per row
            key = key if isinstance(key, tuple) else (key,)
            key = tuple(None if _isnull(k) else k for k in key)
            current = self._groups.get(key)
            self._groups[key] = list(row) if current is None else [
                _combine(agg.func, a, b) for agg, a, b in zip(cfg.aggregations, current, row)
            ]
        return chunk.iloc[0:0][[]]

    def _values(self, chunk: pd.DataFrame, work: pd.DataFrame) -> dict[int, str]:
        """Put each aggregated column into ``work`` in a form its function can combine exactly."""
        names: dict[int, str] = {}
        for i, agg in enumerate(self.config.aggregations):
            if agg.column is None:
                continue
            name = f"v{i}"
            values = chunk[agg.column]
            if agg.func in ("sum", "mean"):
                values = self._numbers(i, agg, values)
            elif agg.func in ("min", "max"):
                self._dtypes.setdefault(i, values.dtype)
            work[name] = values.reset_index(drop=True)
            names[i] = name
        return names

    def _numbers(self, i: int, agg: Aggregation, values: pd.Series) -> pd.Series:
        column = agg.column or ""
        if is_text(values):
            # The mapping's own number reader, so 'a number' means the same in both places.
            parsed = parse_numbers(text_array(values))
            if parsed.bad.any():
                row = values.index[np.flatnonzero(parsed.bad)[0]]
                raise DataError(
                    f"aggregate {agg.func}({column}): '{values.loc[row]}' (row {row}) is not a number; clean or filter it first"
                )
            numbers = pd.Series(parsed.values, index=values.index, dtype=pd.ArrowDtype(parsed.values.type))
            self._value_kinds[i] = "decimal"
            scale = getattr(parsed.values.type, "scale", 0)
            self._scales[i] = max(self._scales.get(i, 0), scale)
            return numbers  # summed per group by Arrow; only group results become Python Decimals
        kind = values.dtype.kind if not isinstance(values.dtype, pd.ArrowDtype) else values.dtype.numpy_dtype.kind
        if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_decimal(values.dtype.pyarrow_dtype):
            self._value_kinds[i] = "decimal"
            self._scales[i] = max(self._scales.get(i, 0), values.dtype.pyarrow_dtype.scale)
            return values.astype(object).where(values.notna(), None)
        if kind in "iub":
            self._value_kinds[i] = "int"
            return values.astype("Int64")
        if kind == "f":
            self._value_kinds[i] = "float"
            return values.astype("Float64")
        raise DataError(f"aggregate {agg.func}({column}): column holds {values.dtype} values, not numbers")

    @staticmethod
    def _partial(agg: Aggregation, grouped: Any, value: str | None) -> pd.Series:
        if value is None:  # count(*)
            return grouped.size()
        col = grouped[value]
        if agg.func in ("count", "mean"):
            count = col.count()
            if agg.func == "count":
                return count
            total = col.sum(min_count=1)
            return pd.Series(list(zip(total.tolist(), count.tolist())), index=count.index, dtype=object)
        if agg.func == "sum":
            return col.sum(min_count=1).astype(object)
        if agg.func in ("min", "max"):
            return getattr(col, agg.func)().astype(object)
        return col.agg(lambda s: frozenset(s.dropna().tolist()))  # count_distinct: distinct values per group

    def finish(self) -> pd.DataFrame | None:
        cfg = self.config
        groups = self._groups
        if not groups and not cfg.group_by:
            groups = {(): [_EMPTY[a.func] for a in cfg.aggregations]}  # SQL: one row, count 0
        keys = list(groups)
        data: dict[str, Any] = {}
        for j, col in enumerate(cfg.group_by):
            data[col] = pd.Series([k[j] for k in keys], dtype=object).astype(self._key_dtypes.get(col, object))
        for i, agg in enumerate(cfg.aggregations):
            data[agg.output_name] = self._result(i, agg, [groups[k][i] for k in keys])
        self._groups = {}
        return pd.DataFrame(data, index=pd.RangeIndex(len(keys)))

    def _result(self, i: int, agg: Aggregation, partials: list[Any]) -> pd.Series:
        if agg.func in ("count", "count_distinct"):
            counts = [len(p) if isinstance(p, frozenset) else int(p) for p in partials]
            return pd.Series(counts, dtype="Int64")
        values = [None if _isnull(p) else p for p in partials]
        kind = self._value_kinds.get(i, "other")
        if agg.func == "mean":
            values = [None if p is None or p[1] == 0 or _isnull(p[0]) else _mean(p[0], p[1], kind, self._scales.get(i, 0)) for p in values]
        if kind == "decimal" or (agg.func == "mean" and kind == "int"):
            values = [None if v is None else Decimal(v) for v in values]  # int partials of integer text
            return pd.Series(pa.array(values, type=_decimal_type(values)), dtype=pd.ArrowDtype(_decimal_type(values)))
        if agg.func in ("sum", "mean"):
            return pd.Series(values, dtype="Int64" if kind == "int" else "Float64")
        result = pd.Series(values, dtype=object)
        return result.astype(self._dtypes[i]) if i in self._dtypes else result.infer_objects()


_EMPTY: dict[str, Any] = {"count": 0, "count_distinct": frozenset(), "sum": None, "mean": None, "min": None, "max": None}


def _isnull(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _combine(func: str, a: Any, b: Any) -> Any:
    if func == "count":
        return a + b
    if func == "count_distinct":
        return a | b
    if func == "mean":
        return (_add(a[0], b[0]), a[1] + b[1])
    if _isnull(a):
        return b
    if _isnull(b):
        return a
    if func == "sum":
        return a + b
    return min(a, b) if func == "min" else max(a, b)


def _add(a: Any, b: Any) -> Any:
    if _isnull(a):
        return b
    return a if _isnull(b) else a + b


def _mean(total: Any, count: int, kind: str, scale: int) -> Any:
    if kind == "float":
        return float(total) / count
    with localcontext() as ctx:
        ctx.prec = 50
        exact = Decimal(total) / Decimal(count)
        return exact.quantize(Decimal(1).scaleb(-(scale + MEAN_EXTRA_SCALE)), rounding=ROUND_HALF_UP)


def _decimal_type(values: list[Any]) -> pa.Decimal128Type:
    present = [v for v in values if v is not None]
    if not present:
        return pa.decimal128(38, 0)
    scale = max(max(-v.as_tuple().exponent, 0) for v in present)
    return pa.decimal128(38, min(scale, 37))
