"""The local files of a drop (folders and remote URLs are left out)."""

from __future__ import annotations

from pathlib import Path


def local_files(mime) -> list[Path]:
    """Local file paths dropped (folders and remote URLs are left out)."""
    if mime is None or not mime.hasUrls():
        return []
    out = []
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_file():
                out.append(path)
    return out
