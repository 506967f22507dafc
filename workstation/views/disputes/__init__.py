"""The dispute desk's widgets: queue table, filter bar, case view, evidence and drafts."""
