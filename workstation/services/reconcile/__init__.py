"""Reconciliation: the rule cascade, runs, why-not, backtests, clerk actions, cases, the tables.

The cascade is data (`rules`) run by the rule kinds (`matchers/`, one module per kind) over the
in-memory `working_set`; a run (`engine`) reads its `candidates`, writes through `run_writes` and
reports a `run_report`. Clerk actions on matches (`clerk_actions`, over `match_records`), why-not,
backtests, exception cases (`cases`), links, the exceptions/matches table queries (`table_queries`
over `table_filters` and `table_selects`; `saved_filters`, `queue_counts`) and their exports.

May import `common`, exporters and models; never `disputes` or `analytics`.
"""

from .engine import run, simulate
from .rules import RuleSpec, ensure_rules, load_rules
from .run_report import RuleCount, RunReport

__all__ = ["RuleCount", "RuleSpec", "RunReport", "ensure_rules", "load_rules", "run", "simulate"]
