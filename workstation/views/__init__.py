"""Everything Qt: windows, pages, dialogs, item models, delegates, charts and background tasks."""
