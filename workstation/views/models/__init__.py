"""Qt item models: thin adapters over rows produced by services."""
