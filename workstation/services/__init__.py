"""Use cases (import, reconcile, queues, disputes, evidence, KPIs): Session in, reports out."""
