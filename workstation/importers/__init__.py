"""One module per file format, plus a registry that recognises files by content."""
