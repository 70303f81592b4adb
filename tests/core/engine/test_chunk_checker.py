"""ChunkChecker: every row that cannot load gets the first reason that applies (step, mapping, then rules in order)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl_studio.core.context import RunContext
from etl_studio.core.engine.flow import REASON_COLUMN, ROW_ERROR_COLUMN, RULE_COLUMN, ChunkChecker
from etl_studio.core.mapping.apply import compile_mapping
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.rules.base import QualityRule


class _Amount(QualityRule):
    """A rule on ``amount`` for these tests: ``odd`` fails odd amounts and answers in reverse row
    order (a rule may: its reasons go by row label); ``big`` fails amounts over 50."""

    config_model = PluginConfig
    kind = "amount"

    def columns(self) -> list[str]:
        return ["amount"]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        if self.name == "odd":
            reasons = [f"{v} is odd" if v % 2 else None for v in chunk["amount"]]
            return pd.Series(reasons, index=chunk.index, dtype=object).iloc[::-1]
        return pd.Series([f"{v} is too big" if v > 50 else None for v in chunk["amount"]], index=chunk.index, dtype=object)


def _checker(*rules: QualityRule) -> ChunkChecker:
    plan = compile_mapping([TargetColumn(name="amount", type="integer", source="amount")], ["amount", ROW_ERROR_COLUMN])
    return ChunkChecker(plan, list(rules), "run-1")


def _rule(name: str, severity: str = "error") -> QualityRule:
    return _Amount(PluginConfig(), RunContext(project_dir=Path("."), connections=None), name=name, severity=severity)


def test_each_bad_row_gets_the_first_reason_in_order_step_mapping_rules() -> None:
    chunk = pd.DataFrame(
        {
            "amount": pd.array(["10", "x", "7", "60", "61", "4", "9"], dtype="string"),
            ROW_ERROR_COLUMN: [None, None, None, None, None, "step broke", "step broke"],
        },
        index=pd.RangeIndex(100, 107),
    )
    checked = _checker(_rule("odd"), _rule("big")).check(chunk)
    assert checked.good["amount"].tolist() == [10]
    assert checked.good.index.tolist() == [100]
    q = checked.quarantined
    assert q.index.tolist() == [101, 102, 103, 104, 105, 106]
    assert q[RULE_COLUMN].tolist() == ["mapping", "odd", "big", "odd", "step", "step"]
    assert q[REASON_COLUMN].tolist() == [
        "amount: 'x' is not an integer", "7 is odd", "60 is too big", "61 is odd", "step broke", "step broke",
    ]
    assert q[RULE_COLUMN].dtype == object and q[REASON_COLUMN].dtype == object
    assert q["amount"].tolist() == ["x", "7", "60", "61", "4", "9"]  # the rows as they came in


def test_rules_count_the_rows_they_checked_and_failed_and_warnings_quarantine_nothing() -> None:
    chunk = pd.DataFrame({"amount": pd.array(["1", "2", "3", "80", "y"], dtype="string")})
    checker = _checker(_rule("odd", severity="warning"), _rule("big"))
    checked = checker.check(chunk)
    odd, big = checker.results["odd"], checker.results["big"]
    assert (odd.rows_checked, odd.rows_failed) == (4, 2)  # the unreadable 'y' is not checked
    assert (big.rows_checked, big.rows_failed) == (4, 1)
    assert odd.samples == ["row 0: 1 is odd", "row 2: 3 is odd"]
    assert checked.quarantined[RULE_COLUMN].tolist() == ["big", "mapping"]
    assert checked.good["amount"].tolist() == [1, 2, 3]


def test_an_expression_rule_sees_every_mapped_column_when_other_rows_failed_the_mapping() -> None:
    """Regression: rules were once given only the columns they declared, and an expression rule
    declares none before its first chunk (it learns them from the frame), so it could not compile."""
    from etl_studio.core import plugins

    context = RunContext(project_dir=Path("."), connections=None)
    rule = plugins.rules.get("expression").from_spec({"expr": "amount < 50 AND note <> 'b'"}, context, name="small", severity="error", action="quarantine")
    plan = compile_mapping(
        [TargetColumn(name="amount", type="integer", source="amount"), TargetColumn(name="note", type="string", source="note")],
        ["amount", "note"],
    )
    checker = ChunkChecker(plan, [rule], "run-1")
    for _ in range(2):  # the first chunk and a later one
        chunk = pd.DataFrame({"amount": pd.array(["10", "x", "70", "20"], dtype="string"), "note": pd.array(["a", "a", "a", "b"], dtype="string")})
        checked = checker.check(chunk)
        assert checked.good["amount"].tolist() == [10]
        assert checked.quarantined[RULE_COLUMN].tolist() == ["mapping", "small", "small"]
