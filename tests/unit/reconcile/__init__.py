"""Reconciliation engine, clerk actions, cases and table queries."""
