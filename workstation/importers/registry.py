"""Registry of importers; picks the format of a file from its content, not its extension.

A file no sniffer is sure of, but which starts like BAI2 (an `01,` file header record) or
carries MT940/MT942 tags (`:20:`, `:25:`, `:60F:`, `:61:`...) or a SWIFT `{2:I940` header, is a
damaged file of that format: it is read as that format, so the user gets that format's error
naming line and field instead of "format not recognised".
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

from ..errors import UserError
from .base import Importer, ImportOptions, ParseResult, Progress
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

_BAI2_HEAD = re.compile(rb"^(\xef\xbb\xbf)?\s*01,")
_MT940_TAGS = re.compile(rb"(?m)^[ \t]*(:(20|25|28C?|60[FM]|61|62[FM]):|\{2:[IO]94[02])")


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
        near = near_match(head)
        if near is not None:
            return near
        raise UserError(
            "format not recognised (not camt, MT940/942, BAI2, OFX, a PSP report or a table "
            "with known columns); choose a format or a mapping profile",
            file=str(path),
        )
    return scored[0][2]


class NearMatch:
    """An importer for a file that only looks like its format: parse errors say so."""

    def __init__(self, importer: Importer, looks: str) -> None:
        self.importer = importer
        self.looks = looks
        self.name = importer.name
        self.label = importer.label

    def sniff(self, head: bytes, filename: str) -> int:
        return self.importer.sniff(head, filename)

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        try:
            return self.importer.parse(path, data, options, progress)
        except UserError as exc:
            raise UserError(
                f"read as {self.label} because {self.looks}, but it cannot be read: {exc.message}",
                file=exc.file or str(path),
                line=exc.line,
                field=exc.field,
            ) from exc


def near_match(head: bytes) -> NearMatch | None:
    """The importer of the format `head` nearly is (see the module docstring), or None."""
    if _BAI2_HEAD.match(head):
        found, looks = "bai2", "it starts with a BAI2 file header record (01)"
    elif m := _MT940_TAGS.search(head):
        tag = m.group(1).decode("latin-1")
        found, looks = "mt940", f"it carries the MT940 tag {tag}"
        if tag.startswith("{"):
            looks = f"it carries the SWIFT MT940 header {tag}"
    else:
        return None
    imp = next((i for i in importers() if i.name == found), None)
    return NearMatch(imp, looks) if imp is not None else None
