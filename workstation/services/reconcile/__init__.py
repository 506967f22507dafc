"""Reconciliation: the rule cascade (rules, matchers), runs (engine), why-not, backtests,
clerk actions on matches (clerk_actions), exception cases, the exceptions/matches table queries
(table_queries, queue_counts) and their exports.

May import `common`, exporters and models; never `disputes` or `analytics`.
"""

from .engine import RuleCount, RunReport, run, simulate
from .rules import RuleSpec, ensure_rules, load_rules

__all__ = ["RuleCount", "RuleSpec", "RunReport", "ensure_rules", "load_rules", "run", "simulate"]
