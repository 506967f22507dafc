"""Dashboard charts drawn with pyqtgraph (shared by the dashboard page and the `chart` command)."""
