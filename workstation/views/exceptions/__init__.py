"""The Exceptions page's parts: table source, filter bar, match workspace, undo commands, runs."""
