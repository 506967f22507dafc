"""One queue page component: filter bar, lazy SQL table, saved filters and a detail pane."""
