"""Error types: `UserError` is something a user caused and can fix; anything else is a bug."""

from __future__ import annotations


class UserError(Exception):
    """An expected problem (bad file, missing column, locked database) a clerk can act on.

    Args:
        message: what went wrong and what to do about it.
        file: the file concerned, if any.
        line: 1-based line (or row) number in that file, if known.
        field: the field or column concerned, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class Cancelled(Exception):
    """Raised from a progress callback to stop a long operation; the operation rolls back."""
