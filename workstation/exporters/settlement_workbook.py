"""The settlement proof as an auditor's workbook (openpyxl, write-only: the lines stream to disk).

Sheets: "Roll-forward" (one block per PSP account and currency: opening, movements, closing, the
independent closing and the difference, with ✓ closes / ✗ does not close, and a sign-off area),
"Bank receipts" (per bank account and currency: payouts expected, received, difference),
"In transit" (payouts at the cut-off, by currency; failed and carried-forward ones apart) and
"Lines" (every line behind the figures, one block per figure). Each figure cell links to the first
row of its block on "Lines". Amounts are exact Decimals in the block's currency (never added
across currencies); text cells are neutralised against formula injection (`table.safe_text`).
Excel holds 1,048,576 rows: past `LINES_LIMIT` rows the lines sheet is cut, with a note at its top
and on the roll-forward, and the figures whose lines were left out have no link.

The proof is read through the protocols below (services.settlement.rollforward provides it), and
`lines_source(figure.ref)` lists a figure's lines (it is called twice per figure: count, write).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.hyperlink import Hyperlink

from ..errors import UserError
from ..money import exponent, from_minor
from .table import safe_text

LINES_LIMIT = 1_000_000  # rows of the lines sheet (Excel's limit is 1,048,576)
LINES_SHEET = "Lines"
_HEAD_ROWS = 5  # title, period, note, blank, header
_FACE = "Calibri"
_TITLE = Font(name=_FACE, bold=True, size=14, color="1F3864")
_BOLD = Font(name=_FACE, bold=True)
_HEADER_FONT = Font(name=_FACE, bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="2F5597")
_BLOCK_FILL = PatternFill("solid", fgColor="D9E1F2")
_LINK = Font(name=_FACE, color="0563C1", underline="single")
_LINK_BOLD = Font(name=_FACE, color="0563C1", underline="single", bold=True)
_OK = Font(name=_FACE, bold=True, color="007A33")
_BAD = Font(name=_FACE, bold=True, color="C00000")
_NOTE = Font(name=_FACE, italic=True, color="595959")
_WARN = Font(name=_FACE, bold=True, color="C00000")
_TOP = Border(top=Side(style="thin"))
_SIGN = Border(bottom=Side(style="thin"))
_DATE = "yyyy-mm-dd"
_CENTER = Alignment(horizontal="center")
_RIGHT = Alignment(horizontal="right")
_INDENT = Alignment(horizontal="left", indent=1)


class FigureLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def ref(self) -> Hashable | None: ...
    @property
    def count(self) -> int | None: ...


class PspBlockLike(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def psp(self) -> str | None: ...
    @property
    def currency(self) -> str: ...
    @property
    def opening(self) -> FigureLike: ...
    @property
    def movements(self) -> Sequence[FigureLike]: ...
    @property
    def closing(self) -> FigureLike: ...
    @property
    def independent(self) -> FigureLike: ...
    @property
    def difference_minor(self) -> int: ...
    @property
    def closes(self) -> bool: ...


class BankBlockLike(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def expected(self) -> FigureLike: ...
    @property
    def received(self) -> FigureLike: ...
    @property
    def received_later(self) -> FigureLike: ...
    @property
    def difference_minor(self) -> int: ...


class PayoutLike(Protocol):
    @property
    def payout_ref(self) -> str: ...
    @property
    def psp(self) -> str | None: ...
    @property
    def account(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def paid_on(self) -> dt.date | None: ...
    @property
    def expected_on(self) -> dt.date | None: ...
    @property
    def status(self) -> str: ...
    @property
    def bank_booked_on(self) -> dt.date | None: ...


class LineLike(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def booked_on(self) -> dt.date | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def record_id(self) -> int | None: ...
    @property
    def payout_ref(self) -> str | None: ...


class ProofLike(Protocol):
    @property
    def date_from(self) -> dt.date: ...
    @property
    def date_to(self) -> dt.date: ...
    @property
    def generated_at(self) -> dt.datetime: ...
    @property
    def psp(self) -> Sequence[PspBlockLike]: ...
    @property
    def banks(self) -> Sequence[BankBlockLike]: ...
    @property
    def in_transit(self) -> Sequence[PayoutLike]: ...
    @property
    def failed(self) -> Sequence[PayoutLike]: ...
    @property
    def carried_forward(self) -> Sequence[PayoutLike]: ...
    @property
    def closes(self) -> bool: ...


LinesSource = Callable[[Any], Iterable[LineLike]]


@dataclass
class WorkbookReport:
    """What was written: lines (block header rows not counted) and whether some were left out."""

    lines: int
    lines_total: int
    truncated: bool


@dataclass
class _Block:
    """One figure's block on the lines sheet."""

    figure: FigureLike
    account: str
    currency: str
    count: int
    row: int | None = None  # its header row on the lines sheet; None: left out


def _money_format(currency: str) -> str:
    places = exponent(currency)
    body = "#,##0" + ("." + "0" * places if places else "")
    return f"{body};[Red]-{body}"


def _money(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)


def _text(value: Any) -> str | None:
    return None if value is None else safe_text(str(value))


class _Sheet:
    """A write-only sheet with a title area and a frozen header row."""

    def __init__(self, wb: Workbook, title: str, widths: Sequence[int], orientation: str) -> None:
        self.ws = wb.create_sheet(title)
        self.row = 0
        for i, width in enumerate(widths):
            self.ws.column_dimensions[chr(ord("A") + i)].width = width
        self.ws.freeze_panes = f"A{_HEAD_ROWS + 1}"
        setup = self.ws.page_setup
        setup.orientation = orientation
        setup.fitToWidth = 1
        setup.fitToHeight = 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        self.ws.print_title_rows = f"{_HEAD_ROWS}:{_HEAD_ROWS}"
        self.ws.print_options.horizontalCentered = True
        self.ws.page_margins.left = self.ws.page_margins.right = 0.4

    def cell(self, value: Any, **style: Any) -> WriteOnlyCell:
        c = WriteOnlyCell(self.ws, value=_text(value) if isinstance(value, str) else value)
        for name, v in style.items():
            setattr(c, name, v)
        return c

    def append(self, cells: Sequence[Any]) -> int:
        self.ws.append(list(cells))
        self.row += 1
        return self.row

    def money(self, minor: int, currency: str, link: int | None = None, bold: bool = False) -> Any:
        c = self.cell(_money(minor, currency), number_format=_money_format(currency))
        if link is not None:
            c.hyperlink = Hyperlink(ref="", location=f"'{LINES_SHEET}'!A{link}")
            c.font = _LINK_BOLD if bold else _LINK
        elif bold:
            c.font = _BOLD
        return c

    def date(self, day: dt.date | None) -> Any:
        return None if day is None else self.cell(day, number_format=_DATE, alignment=_CENTER)

    def titles(self, proof: ProofLike, title: str, note: str, warn: bool = False) -> None:
        when = proof.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.append([self.cell(title, font=_TITLE)])
        period = f"Period {proof.date_from} to {proof.date_to} (cut-off {proof.date_to})"
        self.append([self.cell(f"{period} · generated {when}", font=_BOLD)])
        self.append([self.cell(note, font=_WARN if warn else _NOTE)])
        self.append([])

    def header(self, names: str, right: Sequence[int] = (), center: Sequence[int] = ()) -> None:
        """The column names ("|"-separated), aligned like their values (numbers right)."""
        cells = []
        for i, name in enumerate(names.split("|")):
            after_number = i - 1 in right  # keep the two apart
            align = _RIGHT if i in right else _CENTER if i in center else Alignment()
            align = _INDENT if after_number and i not in (*right, *center) else align
            cells.append(self.cell(name, alignment=align, font=_HEADER_FONT, fill=_HEADER_FILL))
        self.append(cells)


def _blocks(proof: ProofLike) -> list[_Block]:
    out = []
    for b in proof.psp:
        for f in (b.opening, *b.movements, b.independent):
            out.append(_Block(f, b.account, b.currency, 0))
    for k in proof.banks:
        for f in (k.expected, k.received, k.received_later):
            out.append(_Block(f, k.account, k.currency, 0))
    return out


def _layout(blocks: list[_Block], lines_source: LinesSource, limit: int) -> tuple[int, bool]:
    """Count each block's lines and give the blocks that fit their header row."""
    used, total, truncated = 0, 0, False  # data rows (block headers and lines) so far
    for block in blocks:
        if block.figure.ref is not None:
            block.count = sum(1 for _ in lines_source(block.figure.ref))
        total += block.count
        take = min(max(0, limit - used), block.count + 1)
        if take:
            block.row = _HEAD_ROWS + 1 + used
        truncated = truncated or take < block.count + 1
        used += take
    return total, truncated


def _link(blocks: dict[int, _Block], figure: FigureLike) -> int | None:
    block = blocks.get(id(figure))
    return None if block is None else block.row


def _roll_forward(
    wb: Workbook, proof: ProofLike, blocks: dict[int, _Block], note: str, warn: bool
) -> None:
    s = _Sheet(wb, "Roll-forward", (50, 10, 18, 10, 32), "portrait")
    s.titles(proof, "Settlement proof: PSP balance roll-forward", note, warn)
    s.header("Account / movement|Currency|Amount|Lines|Check", right=(2, 3))
    for b in proof.psp:
        head = f"{b.account} ({b.psp})" if b.psp else b.account
        s.append(
            [s.cell(f"{head} · {b.currency}", font=_BOLD, fill=_BLOCK_FILL)]
            + [s.cell(None, fill=_BLOCK_FILL) for _ in range(4)]
        )
        for f in (b.opening, *b.movements):
            row = [
                s.cell(f.label),
                b.currency,
                s.money(f.amount_minor, b.currency, _link(blocks, f)),
            ]
            s.append([*row, blocks[id(f)].count if id(f) in blocks else None])
        opening_row = _link(blocks, b.opening)
        s.append(
            [
                s.cell(b.closing.label, font=_BOLD, border=_TOP),
                s.cell(b.currency, border=_TOP),
                s.money(b.closing.amount_minor, b.currency, opening_row, bold=True),
                s.cell(None, border=_TOP),
                s.cell("opening + movements", font=_NOTE, border=_TOP, alignment=_INDENT),
            ]
        )
        f = b.independent
        count = blocks[id(f)].count if id(f) in blocks else None
        s.append(
            [
                s.cell(f.label),
                b.currency,
                s.money(f.amount_minor, b.currency, _link(blocks, f)),
                count,
                s.cell("sum of every line to the cut-off", font=_NOTE, alignment=_INDENT),
            ]
        )
        verdict = "✓ closes to the cent" if b.closes else "✗ does not close"
        s.append(
            [
                s.cell("Difference (independent − rolled forward)", font=_BOLD),
                b.currency,
                s.money(b.difference_minor, b.currency, bold=True),
                None,
                s.cell(verdict, font=_OK if b.closes else _BAD, alignment=_INDENT),
            ]
        )
        s.append([])
    if not proof.psp:
        s.append([s.cell("No PSP lines up to the cut-off.", font=_NOTE)])
        s.append([])
    overall = "✓ every account closes" if proof.closes else "✗ some accounts do not close"
    s.append(
        [
            s.cell("Result", font=_BOLD),
            None,
            None,
            None,
            s.cell(overall, font=_OK if proof.closes else _BAD, alignment=_INDENT),
        ]
    )
    s.append([])
    s.append([s.cell("Sign-off", font=_BOLD)])
    for who in ("Prepared by", "Reviewed by"):
        labels = (f"{who} (name)", None, "Date", None, "Signature")
        s.append([])
        s.append([None if t is None else s.cell(t, font=_NOTE) for t in labels])
        s.append([s.cell(None, border=_SIGN) if i % 2 == 0 else None for i in range(5)])


def _bank_receipts(wb: Workbook, proof: ProofLike, blocks: dict[int, _Block]) -> None:
    s = _Sheet(wb, "Bank receipts", (26, 10, 17, 16, 23, 14, 28, 60), "landscape")
    note = "Payouts sent in the period and settled by a bank line, against those bank lines."
    s.titles(proof, "Settlement proof: bank receipts", note)
    s.header(
        "Bank account|Currency|Payouts expected|Expected|Received by period end|Difference"
        "|Received after period end|Note",
        right=(2, 3, 4, 5, 6),
    )
    for b in proof.banks:
        cur = b.currency
        count = s.cell(b.expected.count, number_format="#,##0")
        row = _link(blocks, b.expected)
        if row is not None:
            count.hyperlink = Hyperlink(ref="", location=f"'{LINES_SHEET}'!A{row}")
            count.font = _LINK
        diff = b.difference_minor
        if diff == 0:
            text_ = "✓ all received"
        elif diff == -b.received_later.amount_minor:
            text_ = "in transit at the cut-off (received after the period end)"
        else:
            text_ = "✗ difference not explained by payouts in transit: see Lines"
        s.append(
            [
                s.cell(b.account),
                cur,
                count,
                s.money(b.expected.amount_minor, cur, _link(blocks, b.expected)),
                s.money(b.received.amount_minor, cur, _link(blocks, b.received)),
                s.money(diff, cur, bold=True),
                s.money(b.received_later.amount_minor, cur, _link(blocks, b.received_later)),
                s.cell(text_, font=_OK if diff == 0 else _NOTE, alignment=_INDENT),
            ]
        )
    if not proof.banks:
        s.append([s.cell("No payout of the period is settled by a bank line.", font=_NOTE)])


_PAYOUT_HEAD = "Currency|PSP|Account|Payout id|Amount|Paid on|Expected on|Bank line booked|Status"


def _payout_rows(s: _Sheet, payouts: Sequence[PayoutLike], totals: bool) -> None:
    by_currency: dict[str, list[PayoutLike]] = {}
    for p in payouts:
        by_currency.setdefault(p.currency, []).append(p)
    for cur, group in sorted(by_currency.items()):
        for p in group:
            s.append(
                [
                    cur,
                    s.cell(p.psp),
                    s.cell(p.account),
                    s.cell(p.payout_ref),
                    s.money(p.amount_minor, cur),
                    s.date(p.paid_on),
                    s.date(p.expected_on),
                    s.date(p.bank_booked_on),
                    s.cell(p.status.replace("_", " ")),
                ]
            )
        if totals:
            total = sum(p.amount_minor for p in group)
            s.append(
                [
                    s.cell(f"Total {cur}", font=_BOLD, border=_TOP),
                    *[s.cell(None, border=_TOP) for _ in range(2)],
                    s.cell(f"{len(group)} payout(s)", font=_BOLD, border=_TOP),
                    s.cell(
                        _money(total, cur),
                        number_format=_money_format(cur),
                        font=_BOLD,
                        border=_TOP,
                    ),
                    *[s.cell(None, border=_TOP) for _ in range(4)],
                ]
            )
    if not payouts:
        s.append([s.cell("none", font=_NOTE)])


def _in_transit(wb: Workbook, proof: ProofLike) -> None:
    s = _Sheet(wb, "In transit", (10, 10, 24, 34, 16, 13, 13, 18, 14), "landscape")
    note = (
        f"Payouts sent by {proof.date_to} and not at the bank by then (no bank line yet, or one "
        "booked after the cut-off), by currency."
    )
    s.titles(proof, "Settlement proof: payouts in transit at the cut-off", note)
    s.header(_PAYOUT_HEAD, right=(4,), center=(5, 6, 7))
    _payout_rows(s, proof.in_transit, totals=True)
    for title, payouts in (
        ("Failed payouts of the period (the money stays on the PSP balance)", proof.failed),
        ("Carried-forward payouts of the period (nothing goes to the bank)", proof.carried_forward),
    ):
        s.append([])
        s.append([s.cell(title, font=_BOLD)])
        s.header(_PAYOUT_HEAD, right=(4,), center=(5, 6, 7))
        _payout_rows(s, payouts, totals=False)


def _lines(
    wb: Workbook,
    proof: ProofLike,
    blocks: list[_Block],
    lines_source: LinesSource,
    limit: int,
    note: str,
    warn: bool,
) -> int:
    s = _Sheet(wb, LINES_SHEET, (22, 9, 30, 12, 34, 56, 16, 11, 32), "landscape")
    s.titles(proof, "Settlement proof: the lines behind every figure", note, warn)
    s.header(
        "Account|Currency|Category|Date|External id|Description|Amount|Record id|Payout id",
        right=(6,),
        center=(3, 7),
    )
    written = 0
    for block in blocks:
        if block.row is None or s.row - _HEAD_ROWS >= limit:
            break
        f, cur = block.figure, block.currency
        s.append(
            [
                s.cell(block.account, font=_BOLD, fill=_BLOCK_FILL),
                s.cell(cur, fill=_BLOCK_FILL),
                s.cell(f.label, font=_BOLD, fill=_BLOCK_FILL),
                s.cell(None, fill=_BLOCK_FILL),
                s.cell(None, fill=_BLOCK_FILL),
                s.cell(f"{block.count:,} line(s)", fill=_BLOCK_FILL),
                s.cell(
                    _money(f.amount_minor, cur),
                    number_format=_money_format(cur),
                    font=_BOLD,
                    fill=_BLOCK_FILL,
                ),
                s.cell(None, fill=_BLOCK_FILL),
                s.cell(None, fill=_BLOCK_FILL),
            ]
        )
        if f.ref is None:
            continue
        for line in lines_source(f.ref):
            if s.row - _HEAD_ROWS >= limit:
                break
            s.append(
                [
                    s.cell(line.account),
                    line.currency,
                    s.cell(f.label),
                    s.date(line.booked_on),
                    s.cell(line.external_id),
                    s.cell(line.description),
                    s.money(line.amount_minor, line.currency),
                    s.cell(line.record_id, alignment=_CENTER),
                    s.cell(line.payout_ref),
                ]
            )
            written += 1
    if warn:
        s.append([])
        s.append([s.cell(note, font=_WARN)])
    return written


def write_settlement_workbook(
    proof: ProofLike, path: Path, lines_source: LinesSource, *, limit: int | None = None
) -> WorkbookReport:
    """Write the proof to `path` (.xlsx), atomically (a temporary file, then a rename).

    Raises:
        UserError: not an .xlsx name, no such folder, or the file cannot be written.
    """
    if path.suffix.lower() != ".xlsx":
        raise UserError("the settlement workbook must be an .xlsx file", file=str(path))
    if not path.parent.is_dir():
        raise UserError("folder does not exist", file=str(path.parent))
    cap = LINES_LIMIT if limit is None else limit
    blocks = _blocks(proof)
    total, truncated = _layout(blocks, lines_source, cap)
    by_figure = {id(b.figure): b for b in blocks}
    if truncated:
        note = (
            f"Lines sheet truncated: Excel holds 1,048,576 rows, so only the first {cap:,} rows "
            f"of {total:,} lines are written; figures without a link have their lines left out "
            "(narrow the period to see them)."
        )
    else:
        note = "Amounts in each account's own currency, never added across currencies. "
        note += "Click a figure to see its lines."
    tmp = path.with_name(path.name + ".part")
    wb = Workbook(write_only=True)
    try:
        _roll_forward(wb, proof, by_figure, note, truncated)
        _bank_receipts(wb, proof, by_figure)
        _in_transit(wb, proof)
        lines = _lines(wb, proof, blocks, lines_source, cap, note, truncated)
        wb.save(str(tmp))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the workbook: {exc.strerror}", file=str(path)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WorkbookReport(lines=lines, lines_total=total, truncated=truncated)
