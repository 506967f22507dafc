"""Registry of importers; picks the format of a file from its content, not its extension."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from ..errors import UserError
from .base import Importer
from .text import looks_binary

# Module names under workstation.importers, each exposing IMPORTER. Order breaks sniff ties.
MODULES = (
    "camt",
    "mt940",
    "bai2",
    "ofx",
    "stripe",
    "adyen",
    "paypal",
    "braintree",
    "disputes",
    "tabular",
)
SNIFF_BYTES = 65536


@cache
def importers() -> tuple[Importer, ...]:
    """All importers, in registry order."""
    found: list[Importer] = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # format not built yet
            raise
        found.append(module.IMPORTER)
    return tuple(found)


def by_name(name: str) -> Importer:
    """The importer called `name` (`--format NAME`)."""
    for imp in importers():
        if imp.name == name:
            return imp
    known = ", ".join(i.name for i in importers())
    raise UserError(f"unknown format {name!r}; known formats: {known}")


def detect(head: bytes, path: Path) -> Importer:
    """The importer whose sniffer is most confident about `head`."""
    if not head.strip():
        raise UserError("the file is empty", file=str(path))
    if looks_binary(head) and not head.startswith(b"PK\x03\x04"):
        raise UserError("this is a binary file, not a statement or report", file=str(path))
    scored = sorted(
        ((imp.sniff(head, path.name), i, imp) for i, imp in enumerate(importers())),
        key=lambda t: (-t[0], t[1]),
    )
    if not scored or scored[0][0] <= 0:
        raise UserError(
            "format not recognised (not camt, MT940/942, BAI2, OFX, a PSP report or a table "
            "with known columns); choose a format or a mapping profile",
            file=str(path),
        )
    return scored[0][2]
