"""The Matches page's parts: table source, filter bar and the match detail pane."""
