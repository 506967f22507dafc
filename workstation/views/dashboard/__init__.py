"""Dashboard widgets: tiles, chart cards, the period/filter bar, the Excel round-trip dialog."""
