"""Excel round trip of queue decisions: export the exceptions or disputes queue with a decision
column, read the edited workbook back as a plan, apply it with conflict detection.

May import `common`, `reconcile` (cases, table queries), `disputes` (queue, intake), exporters
and models.
"""
