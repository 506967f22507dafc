"""Reconciliation: rule cascade (rules, matchers), runs (engine), why-not (explain), backtests."""

from .engine import RuleCount, RunReport, run, simulate
from .rules import RuleSpec, ensure_rules, load_rules

__all__ = ["RuleCount", "RuleSpec", "RunReport", "ensure_rules", "load_rules", "run", "simulate"]
