"""Excel round trip of queue decisions: export a queue with a decision column, plan, apply.

`export` writes the exceptions or disputes queue as a decision workbook; `decision_grammar` says
what a decision cell may hold and what it would change; `row_state` holds the row versions that
detect conflicts; `plan` reads the edited workbook back as a plan and `apply` applies it.
`decisions` gathers their public names.

May import `common`, `reconcile` (cases, table queries), `disputes` (queue, intake), exporters
and models.
"""
