"""The chunk flow shared by runs and previews: steps (with end-of-run flushes), mapping, rules, quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl_studio.core.casting import forget_chunk
from etl_studio.core.cdc.apply import OP_COLUMN, UNCHANGED_COLUMN
from etl_studio.core.errors import DataError
from etl_studio.core.history.records import RuleResult
from etl_studio.core.mapping.apply import CompiledMapping, apply_mapping
from etl_studio.core.rows import select_rows
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps.base import Step

from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN  # steps put per-row evaluation errors here
RULE_COLUMN = "__rule__"
REASON_COLUMN = "__reason__"
SAMPLES_PER_RULE = 5
# Captured changes that carry only a key (or nothing): the mapping's required columns and the
# quality rules are about row values, which these do not have, so they are neither checked nor
# quarantined (quarantining a delete would leave a row in the target that the source removed).
KEY_ONLY_OPS = ("delete", "truncate")


def run_steps(chunks: Iterable[pd.DataFrame], steps: list[Step]) -> Iterator[pd.DataFrame]:
    """Each chunk through every step, then the blocking steps' held rows through the steps after them."""
    for chunk in chunks:
        for step in steps:
            chunk = step.process(chunk)
        yield chunk
    for i, step in enumerate(steps):
        tail = step.finish()
        if tail is None:
            continue
        for later in steps[i + 1:]:
            tail = later.process(tail)
        yield tail


@dataclass
class Violation:
    row: Any  # the row's index label (source row number)
    column: str | None
    rule: str
    reason: str


@dataclass
class CheckedChunk:
    good: pd.DataFrame  # target-shaped rows that load
    quarantined: pd.DataFrame  # the rows as they came into the mapping + __rule__, __reason__
    mapped: pd.DataFrame  # every mapped row (preview shows failing cells too)
    violations: list[Violation] = field(default_factory=list)


class ChunkChecker:
    """Mapping, then rules, for one run. Keeps each rule's running result.

    ``carry``: the source's change columns (CDC's ``__op__``, ``__lsn__``, ``__unchanged__``). They
    are taken off before the mapping and put back on the mapped rows, so they reach the target
    whatever the mapping says; rows whose ``__op__`` is a delete or a TRUNCATE skip the mapping's
    required-value checks and the rules (only inserts and updates are checked).
    """

    def __init__(self, plan: CompiledMapping, rules: list[QualityRule], run_id: str, params: Mapping[str, Any] | None = None, *,
                 collect_violations: bool = False, carry: Sequence[str] = ()) -> None:
        self.plan = plan
        self.rules = rules
        self.params = params
        self.collect_violations = collect_violations
        self.carry = tuple(carry)
        self.results = {r.name: RuleResult(run_id, r.name, r.kind, r.severity, r.action) for r in rules}

    def check(self, chunk: pd.DataFrame) -> CheckedChunk:
        # Per row, by position: the first reason it cannot load and what gave it (numpy object
        # arrays: setting a few cells of a pandas Series by a mask cost ~10 ms a 50k-row chunk).
        n = len(chunk)
        reasons = np.full(n, None, dtype=object)
        rule_of = np.full(n, None, dtype=object)
        decided = np.zeros(n, dtype=bool)  # the row has its reason
        violations: list[Violation] = []
        if ROW_ERROR_COLUMN in chunk.columns:
            step_errors = chunk[ROW_ERROR_COLUMN]
            bad = step_errors.notna().to_numpy(dtype=bool)
            reasons[bad] = step_errors.to_numpy(dtype=object)[bad]
            rule_of[bad] = "step"
            decided |= bad
            chunk = chunk.drop(columns=[ROW_ERROR_COLUMN])
        carried_names = [c for c in self.carry if c in chunk.columns]
        carried = chunk[carried_names] if carried_names else None
        key_only = np.zeros(n, dtype=bool)
        if carried is not None and OP_COLUMN in carried.columns:
            key_only = carried[OP_COLUMN].astype("object").isin(KEY_ONLY_OPS).to_numpy(dtype=bool)
        mapped, map_errors = apply_mapping(self.plan, chunk.drop(columns=carried_names) if carried_names else chunk, self.params)
        if map_errors is not None and key_only.any():
            map_errors = map_errors.where(~key_only, None)
        if map_errors is not None:
            errors = map_errors.to_numpy(dtype=object)
            new = map_errors.notna().to_numpy(dtype=bool) & ~decided
            reasons[new] = errors[new]
            rule_of[new] = "mapping"
            decided |= new
            if self.collect_violations:
                for row, reason in map_errors[map_errors.notna()].items():
                    column = str(reason).split(":", 1)[0]
                    violations.append(Violation(row, column if column in mapped.columns else None, "mapping", str(reason)))
        checked = ~decided & ~key_only  # the rows every rule looks at
        checked_at = np.flatnonzero(checked)
        # One frame for every rule (rules read it, never change it), with every mapped column: a rule's
        # columns() is not a promise of all it reads (an expression rule learns them from the frame).
        candidate = select_rows(mapped, checked) if self.rules else mapped
        for rule in self.rules:
            rule_reasons = rule.check(candidate)
            if not rule_reasons.index.equals(candidate.index):  # by position below: in the candidate's order
                rule_reasons = rule_reasons.reindex(candidate.index)
            failing = rule_reasons.notna()
            result = self.results[rule.name]
            result.rows_checked += len(candidate)
            count = int(failing.sum())
            if not count:
                continue
            result.rows_failed += count
            failed = rule_reasons[failing]
            for row, reason in failed.head(SAMPLES_PER_RULE - len(result.samples)).items():
                result.samples.append(f"row {row}: {reason}")
            if self.collect_violations:
                column = next(iter(rule.columns()), None)
                violations += [Violation(row, column, rule.name, str(reason)) for row, reason in failed.items()]
            if rule.severity == "error" and rule.action == "fail" and not self.collect_violations:
                first_row, first_reason = next(iter(failed.items()))
                raise DataError(
                    f"rule '{rule.name}' failed on {count} row(s) (first: row {first_row}: {first_reason}); "
                    "its action is 'fail', so nothing was loaded"
                )
            if rule.severity == "error":
                failing_at = failing.to_numpy(dtype=bool)
                rows = checked_at[failing_at]
                first = ~decided[rows]  # an earlier rule's reason stays
                reasons[rows[first]] = rule_reasons.to_numpy(dtype=object)[failing_at][first]
                rule_of[rows[first]] = rule.name
                decided[rows[first]] = True
        forget_chunk()  # what casting remembered about this chunk's columns is of no use to the next one
        # select_rows hands back the frame itself when every row stays: the usual chunk is not copied.
        quarantined = select_rows(chunk, decided).copy()
        quarantined[RULE_COLUMN] = pd.Series(rule_of[decided], index=quarantined.index, dtype=object)
        quarantined[REASON_COLUMN] = pd.Series(reasons[decided], index=quarantined.index, dtype=object)
        if carried is not None:
            mapped = self._with_carried(mapped, carried, carried_names)
        return CheckedChunk(select_rows(mapped, ~decided), quarantined, mapped, violations)

    def _with_carried(self, mapped: pd.DataFrame, carried: pd.DataFrame, carried_names: list[str]) -> pd.DataFrame:
        """The source's change columns put back on the mapped rows."""
        mapped = mapped.drop(columns=[c for c in carried_names if c in mapped.columns])
        carried = carried.copy()
        if UNCHANGED_COLUMN in carried.columns and not self.plan.passthrough:
            carried[UNCHANGED_COLUMN] = carried[UNCHANGED_COLUMN].map(self._unchanged_in_target, na_action="ignore")
        return pd.concat([mapped, carried], axis=1)

    def _unchanged_in_target(self, listed: Any) -> Any:
        """An update's unchanged (unsent TOAST) source columns, as the target columns made from them."""
        if not isinstance(listed, str) or not listed:
            return listed
        unchanged = set(json.loads(listed))
        names = []
        for column in self.plan.columns:
            if column.source is not None:
                used = {column.source}
            elif column.expr is not None:
                used = set(self.plan.expressions[column.name].referenced_columns)
            else:
                used = set()
            if used & unchanged:
                names.append(column.name)
        return json.dumps(names) if names else None

    def finish(self) -> list[tuple[QualityRule, str]]:
        """Run-level failures (row_count), recorded on the rule results."""
        failures = []
        for rule in self.rules:
            message = rule.finish()
            if message:
                self.results[rule.name].run_level_failure = message
                failures.append((rule, message))
        return failures
