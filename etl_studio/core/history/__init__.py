"""Run history: the RunRecord state machine and where records, logs and rule results are kept."""

from etl_studio.core.history.records import IllegalTransition, RuleResult, RunRecord, RunStatus
from etl_studio.core.history.store import InMemoryRunStore, RunStore, SqlRunStore, open_run_store

__all__ = [
    "IllegalTransition",
    "InMemoryRunStore",
    "RuleResult",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "SqlRunStore",
    "open_run_store",
]
