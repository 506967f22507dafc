"""The MT940/MT942 pre-processor: the file's lines into statements and tags, line numbers kept.

What it has to get right, learnt from real bank exports (ING, ABN AMRO, ASN, Knab):

* A line holding only `-` ends a message only where a message can end: followed by a new message
  block (`{1:`... or `:20:`, after any bank preamble lines such as ABN AMRO's `ABNANL2A` / `940`),
  by `}` or by the end of the file. ING breaks its `:86:` free text anywhere, so `/MARF/MND`, `-`,
  `EV01//CSID/...` is one mandate reference `MND-EV01`, and the statement goes on.
* ING wraps even one-line tags (`:28C:0000` + `0`); their lines are joined again.
* A `:61:` may go over several lines: the supplementary details on the next line (SWIFT), ING
  also wraps the bank reference (`//00000000001` + `005`) and its `/TRCD/` details anywhere.
  `join_statement_line` puts the tag back into the two lines `mt-940` expects.
* The amount of a `:61:` is exact or refused: it must be followed by the transaction type (N, F
  or S and three characters). `mt-940` reads `1O,0ONTRF` (letter O) as 1.00 with a customer
  reference `O,0ONTRF`; `amount_problem` turns that into a row problem naming line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import Problem

_TAG = re.compile(r"^:(?P<tag>[0-9]{2}[A-Z]?|NS):(?P<value>.*)$")
# Unambiguous ends of a message: `-}` (end of the text block), `-}{5:...}` and ING's `-XXX`.
_END = re.compile(r"^-(XXX)?\}?(\{5:.*)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Value date, entry date, mark and funds code of a `:61:`, then the amount.
# A funds code is a letter before a digit: in `DO,00` the O is a damaged 0, not a funds code.
_LINE_START = re.compile(r"^\d{6}(\d{4}|\s{4})?R?[CD]([A-Z](?=[0-9]))?[\n ]?", re.IGNORECASE)
_AMOUNT = re.compile(r"[0-9]+(,[0-9]*)?|,[0-9]+")
# The transaction type: N, F or S and three characters (ING pads with spaces: "NOV ", Sberbank
# sends "S   ").
_TYPE = re.compile(r"[NFS][A-Z0-9 ]{3}")
# A bank's own type outside SWIFT (`0,42MCI0NONREF` in a real MT942) is kept with a warning, but
# only after a complete amount, as a letter and 3 characters with a digit among them (a code, not
# reference text like `1,56EREF`), not starting with a letter that stands for a digit (O, I, L,
# Z, B) and not just a stray letter in front of a SWIFT type (`1,00XNTRF`).
_COMPLETE = re.compile(r"^[0-9]+,[0-9]{1,3}$")
_OTHER_TYPE = re.compile(r"(?![OILZB])[A-Z](?![NFS][A-Z0-9 ]{3})(?=[A-Z0-9]{0,2}[0-9])[A-Z0-9]{3}")
_DIGITS = re.compile(r"^[0-9]+$")
_BANK_REF_MAX = 16
# Tags of one line in SWIFT; ING wraps even these (`:28C:0000` + `0`), so their lines are joined.
_HEADER_TAGS = {"20", "21", "25", "28", "28C", "13", "13D", "34F", "90D", "90C"}
_ONE_LINE = frozenset(_HEADER_TAGS | {"60F", "60M", "62F", "62M", "64", "65"})


@dataclass
class Tag:
    """One tag with its value (continuation lines joined with newlines) and its first line."""

    tag: str
    value: str
    line: int


@dataclass
class Block:
    """One statement (`:20:` up to its end, see the module docstring)."""

    line: int
    tags: list[Tag] = field(default_factory=list)

    def first(self, *names: str) -> Tag | None:
        """The first tag of one of these names."""
        return next((t for t in self.tags if t.tag in names), None)


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) with framing bytes removed and SWIFT envelopes split off.

    A line opening a FIN envelope (`{1:` or one carrying `{4:`) is replaced by the marker `{`
    (a new message starts) followed by whatever text comes after `{4:` on that line.
    """
    out: list[tuple[int, str]] = []
    for no, raw in enumerate(text.split("\n"), 1):
        line = _CONTROL.sub("", raw).rstrip()
        if line.lstrip().startswith("{1:") or "{4:" in line:
            out.append((no, "{"))
            line = line.split("{4:", 1)[1] if "{4:" in line else ""
            if not line.strip():
                continue
        out.append((no, line))
    return out


def _dash_ends(lines: list[tuple[int, str]]) -> list[bool]:
    """For each line: whether a bare `-` there would end the message (see the module
    docstring). The next line that is a tag, a block marker or an end decides; one pass from the
    end of the file, so a file of many `-` lines costs no more than any other."""
    out = [True] * len(lines)
    ends = True  # only preamble/trailer lines or nothing until the end of the file
    for i in range(len(lines) - 1, -1, -1):
        out[i] = ends
        stripped = lines[i][1].strip()
        if stripped.startswith(("{", "}")) or (stripped != "-" and _END.match(stripped)):
            ends = True
        elif match := _TAG.match(stripped):
            ends = match["tag"] == "20"
    return out


def tokenise(text: str) -> list[Block]:
    """Statements of the file with their tags and line numbers, envelopes and preambles removed."""
    blocks: list[Block] = []
    current: Block | None = None
    lines = _lines(text)
    dash_ends = _dash_ends(lines)
    for i, (no, line) in enumerate(lines):
        stripped = line.strip()
        ends = _END.match(stripped) and (stripped != "-" or dash_ends[i])
        if line == "{" or ends or stripped == "}":
            if current is not None:
                blocks.append(current)
                current = None
            continue
        match = _TAG.match(stripped)
        if match:
            tag = match["tag"]
            if tag == "20" or current is None:
                if current is not None:
                    blocks.append(current)
                current = Block(line=no)
            current.tags.append(Tag(tag, match["value"].rstrip(), no))
            continue
        if current is None or not stripped:
            continue  # bank preamble (ABNANL2A / 940), blank padding lines
        current.tags[-1].value += "\n" + line
    if current is not None:
        blocks.append(current)
    for block in blocks:
        for t in block.tags:
            if t.tag == "61":
                t.value = join_statement_line(t.value)
            elif t.tag in _ONE_LINE:
                t.value = "".join(p.strip() for p in t.value.split("\n"))
    return blocks


def join_statement_line(value: str) -> str:
    """A `:61:` value as the two lines of SWIFT: subfields 1-7 and the supplementary details.

    A continuation line of digits only right after a bank reference of digits is the rest of
    that reference when together they stay within its 16 characters (ING wraps it). The other
    continuation lines are the supplementary details; several of them are wraps of one: joined
    as they are when the details are ING's `/TRCD/` style code words (broken mid-word), else
    with a space.
    """
    parts = [p.strip() for p in value.split("\n")]
    head, rest = parts[0], [p for p in parts[1:] if p]
    if rest and "//" in head and _DIGITS.match(rest[0]):
        bank = head.rsplit("//", 1)[1]
        if _DIGITS.match(bank) and len(bank) + len(rest[0]) <= _BANK_REF_MAX:
            head, rest = head + rest[0], rest[1:]
    if not rest:
        return head
    sep = "" if rest[0].startswith("/") else " "
    return f"{head}\n{sep.join(rest)}"


def amount_text(value: str) -> str | None:
    """The amount of a `:61:` value as written (`1,56`), or None when there is none."""
    start = _LINE_START.match(value.strip())
    amount = _AMOUNT.match(value.strip(), start.end()) if start else None
    return amount.group() if amount else None


def amount_problem(tag: Tag) -> Problem | None:
    """A row problem (the line is left out) when the amount of this `:61:` is not digits with a
    decimal comma followed by the transaction type, a warning for a bank's own type after a
    complete amount, None when all is well (or when the line's start is not even a `:61:`, which
    the date check refuses with its own message)."""
    value = tag.value.strip()
    start = _LINE_START.match(value)
    if not start:
        return None
    pos = start.end()
    amount = _AMOUNT.match(value, pos)
    shown = value[pos : pos + 20].split("\n")[0]
    expected = (
        "digits with a decimal comma, then the transaction type: N, F or S and 3 characters, "
        "e.g. 1,56NTRF"
    )
    if not amount:
        return Problem(
            f"amount cannot be read: {shown!r} does not start with a digit ({expected}); the "
            "line is left out",
            line=tag.line,
            field=":61: amount",
        )
    if _TYPE.match(value, amount.end()):
        return None
    other = _OTHER_TYPE.match(value, amount.end())
    if other and _COMPLETE.match(amount.group()):
        return Problem(
            f"transaction type {other.group()!r} is not a SWIFT type (N, F or S and 3 "
            f"characters); the amount {amount.group()} is kept as it stands",
            line=tag.line,
            field=":61: transaction type",
            severity="warning",
        )
    return Problem(
        f"amount cannot be read: {shown!r} — {amount.group()!r} is followed by "
        f"{value[amount.end() : amount.end() + 4]!r}, not by a transaction type ({expected}); "
        "a damaged amount is not guessed, the line is left out",
        line=tag.line,
        field=":61: amount",
    )
