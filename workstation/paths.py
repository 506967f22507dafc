"""Where shipped resources and migrations live (inside the wheel, or beside the source tree)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{name}/ not found next to the workstation package")


def resources_dir() -> Path:
    """The `resources/` folder: icons, stylesheets, templates, reference data."""
    return _find("resources")


def migrations_dir() -> Path:
    """The Alembic `migrations/` folder."""
    return _find("migrations")
