"""BAI2 (BAI version 2) cash management files, read with the `bai2` package behind a wrapper.

The wrapper keeps line numbers (which the package does not), checks the record order and every
control total itself (49 account, 98 group, 99 file) so a failure names the record and line, and
normalises what the package trips over: `03` records with blank type codes, and type codes it has
no entry for (bank-specific ones are read by their range). Amounts carry no decimal point; they
are minor units of the account's currency (from the 03 record, else the 02 group, else USD).
Detail type codes 100-399 are credits, 400-699 debits.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bai2 import bai2 as bai2_parser
from bai2.constants import TypeCodes
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException

from ..errors import UserError
from ..money import format_minor
from .bankcommon import StatementReader, add_refs, balance_problem, bank_kind, clean_ref, clean_text
from .base import AccountInfo, ImportOptions, ParseResult, Problem, Progress
from .text import check_line_length, decode

_CODES = {
    "01": "file header",
    "02": "group header",
    "03": "account identifier",
    "16": "transaction detail",
    "49": "account trailer",
    "98": "group trailer",
    "99": "file trailer",
}
# What may follow each record (the file grammar: 01 (02 (03 16* 49)+ 98)+ 99).
_NEXT = {
    "01": ("02",),
    "02": ("03",),
    "03": ("16", "49"),
    "16": ("16", "49"),
    "49": ("03", "98"),
    "98": ("02", "99"),
    "99": (),
}


@dataclass
class _Record:
    """One logical record (with its 88 continuations) and where it is in the file."""

    code: str
    line: int
    lines: list[str] = field(default_factory=list)

    def fields(self) -> list[str]:
        """Fields after the record code (headers and trailers: no free text)."""
        parts = [self.lines[0][3:], *(x[3:] for x in self.lines[1:])]
        return [f.strip() for f in ",".join(p.rstrip().rstrip("/") for p in parts).split(",")]

    def summaries(self) -> tuple[list[str], list[list[str]]]:
        """An 03 record's (account number, currency) and its summary items.

        Each item is type code, amount, item count, funds type and the funds type's extra fields.
        Banks end a line with `,/` or `,,/` alike, so trailing empty fields of a line are ignored
        and a missing funds type counts as blank.
        """
        head: list[str] = []
        items: list[list[str]] = []
        for i, line in enumerate(self.lines):
            tokens = [t.strip() for t in line[3:].rstrip().rstrip("/").split(",")]
            if i == 0:
                head, tokens = [*tokens, "", ""][:2], tokens[2:]
            pos = 0
            while pos < len(tokens) and any(tokens[pos:]):
                item = [*tokens[pos : pos + 4], "", "", "", ""][:4]
                pos += 4
                extra = {"V": 2, "S": 3}.get(item[3], 0)
                if item[3] == "D" and pos < len(tokens) and tokens[pos].isdigit():
                    extra = 1 + 2 * int(tokens[pos])
                item += tokens[pos : pos + extra]
                pos += extra
                items.append(item)
        return head, items


def _records(text: str, file: str) -> list[_Record]:
    records: list[_Record] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        code = line[:2]
        if code == "88":
            if not records:
                raise UserError(
                    "continuation record 88 before any record", file=file, line=no, field="88"
                )
            records[-1].lines.append(line)
            continue
        if code not in _CODES or (len(line) > 2 and line[2] != ","):
            raise UserError(
                f"not a BAI2 record: {line[:20]!r} (records start with 01, 02, 03, 16, 49, 88, "
                "98 or 99 and a comma)",
                file=file,
                line=no,
                field="record code",
            )
        records.append(_Record(code, no, [line]))
    if not records or records[0].code != "01":
        raise UserError(
            "a BAI2 file starts with an 01 file header", file=file, line=1, field="record code"
        )
    for prev, cur in itertools.pairwise(records):
        if cur.code not in _NEXT[prev.code]:
            expected = " or ".join(f"{c} ({_CODES[c]})" for c in _NEXT[prev.code]) or "nothing"
            raise UserError(
                f"record {cur.code} ({_CODES[cur.code]}) after {prev.code} ({_CODES[prev.code]}) "
                f"of line {prev.line}; expected {expected}",
                file=file,
                line=cur.line,
                field=cur.code,
            )
    if records[-1].code != "99":
        last = records[-1]
        raise UserError(
            f"the file ends at line {last.line + len(last.lines) - 1} without the 99 file "
            "trailer: it is truncated",
            file=file,
            line=last.line,
        )
    return records


def _substitute_code(code: str) -> str:
    """A type code the package knows, for one it does not (bank-specific codes)."""
    if code in TypeCodes:
        return code
    if code.isdigit() and 100 <= int(code) <= 399:
        return "399"
    if code.isdigit() and 400 <= int(code) <= 699:
        return "699"
    return "890"  # "contains non-monetary information"


def _package_lines(records: list[_Record]) -> list[str]:
    """The file as the package should see it: 03 summaries cleaned, unknown codes replaced."""
    out: list[str] = []
    for rec in records:
        if rec.code == "03":
            head, items = rec.summaries()
            kept: list[str] = []
            for item in items:
                if not item[0] and not item[1]:
                    continue  # blank summary (`03,acct,USD,,,,/`), legal and common
                kept += [_substitute_code(item[0]), *item[1:]]
            out.append("03," + ",".join(head + kept) + "/")
        elif rec.code == "16":
            parts = rec.lines[0].split(",", 2)
            if len(parts) > 1:
                parts[1] = _substitute_code(parts[1].strip())
            out.append(",".join(parts))
            out.extend(rec.lines[1:])
        else:
            out.extend(rec.lines)
    return out


def _total(value: str, what: str, rec: _Record, file: str) -> int | None:
    if value in ("", "/"):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise UserError(
            f"{what} {value!r} is not a number", file=file, line=rec.line, field=rec.code
        ) from exc


class _Reader(StatementReader):
    """Checks control totals and turns the package's model into rows."""

    def __init__(self, file: str, records: list[_Record]) -> None:
        super().__init__(file)
        self.records = iter(records)

    def next(self, code: str) -> _Record:
        rec = next(self.records)
        if rec.code != code:  # pragma: no cover - the grammar check makes this impossible
            raise UserError(f"expected record {code}", file=self.file, line=rec.line)
        return rec

    def integrity(
        self, rec: _Record, what: str, total: int | None, found: int, count: int | None, n: int
    ) -> None:
        """A control total or record count that does not add up makes the whole file suspect."""
        if total is not None and total != found:
            raise UserError(
                f"control total check failed: the {rec.code} {what} trailer says {total} but "
                f"the amounts it covers add up to {found} (difference {total - found}); the "
                "file is damaged or incomplete, ask the bank to send it again",
                file=self.file,
                line=rec.line,
                field=f"{rec.code} {what} control total",
            )
        if count is not None and count != n:
            raise UserError(
                f"record count check failed: the {rec.code} {what} trailer says {count} records, "
                f"the {what} has {n}; the file is damaged or incomplete",
                file=self.file,
                line=rec.line,
                field=f"{rec.code} number of records",
            )

    def trailer(
        self, code: str, what: str, part: str, found: int, lines: int, parts: int
    ) -> tuple[int | None, int]:
        """Read the trailer closing a file (99) or group (98) and check what it declares.

        Args:
            code: the trailer's record code.
            what: "file" or "group".
            part: what the file or group is made of ("group", "account").
            found: the amounts the file or group covers, added up.
            lines: physical lines of the file or group before its trailer.
            parts: how many groups or accounts it has.

        Returns:
            the declared control total (None if not given) and the lines including the trailer.
        """
        rec = self.next(code)
        lines += len(rec.lines)
        f = rec.fields()
        declared = _total(f[0] if f else "", f"{what} control total", rec, self.file)
        self.integrity(
            rec,
            what,
            declared,
            found,
            _total(f[2] if len(f) > 2 else "", "number of records", rec, self.file),
            lines,
        )
        said = _total(f[1] if len(f) > 1 else "", f"number of {part}s", rec, self.file)
        if said is not None and said != parts:
            raise UserError(
                f"the {code} {what} trailer says {said} {part}s, the {what} has {parts}",
                file=self.file,
                line=rec.line,
                field=f"{code} number of {part}s",
            )
        return declared, lines

    def read(self, model: Any) -> None:
        file_rec = self.next("01")
        file_total = 0
        file_lines = len(file_rec.lines)
        for group in model.children:
            g_total, g_lines = self.group(group)
            file_total += g_total
            file_lines += g_lines
        self.trailer("99", "file", "group", file_total, file_lines, len(model.children))

    def group(self, group: Any) -> tuple[int, int]:
        rec = self.next("02")
        f = rec.fields()
        currency = (f[5] if len(f) > 5 else "").upper() or None
        as_of: dt.date = group.header.as_of_date
        total = 0
        lines = len(rec.lines)
        for account in group.children:
            a_total, a_lines = self.account(account, currency, as_of)
            total += a_total
            lines += a_lines
        declared, lines = self.trailer("98", "group", "account", total, lines, len(group.children))
        return (declared if declared is not None else total), lines

    def account(self, account: Any, group_ccy: str | None, as_of: dt.date) -> tuple[int, int]:
        rec = self.next("03")
        (number, ccy), _items = rec.summaries()
        number = " ".join(number.split())
        if not number:
            raise UserError("account number missing", file=self.file, line=rec.line, field="03")
        currency = ccy.upper() or group_ccy or "USD"
        self.accounts.setdefault(
            number,
            AccountInfo(key=number, kind="bank", account_number=number, currency=currency),
        )
        summaries = {
            s.type_code.code: s.amount
            for s in account.header.summary_items
            if s.type_code is not None and s.amount is not None
        }
        total = sum(s.amount or 0 for s in account.header.summary_items)
        lines = len(rec.lines)
        first = len(self.rows)
        for detail in account.children:
            d_rec = self.next("16")
            lines += len(d_rec.lines)
            total += detail.amount or 0
            self.detail(detail, d_rec, number, currency, as_of)
        trailer = self.next("49")
        lines += len(trailer.lines)
        t = trailer.fields()
        self.integrity(
            trailer,
            "account",
            _total(t[0] if t else "", "account control total", trailer, self.file),
            total,
            _total(t[1] if len(t) > 1 else "", "number of records", trailer, self.file),
            lines,
        )
        self.check_summaries(
            rec, number, currency, summaries, self.rows[first:], len(account.children)
        )
        declared = _total(t[0] if t else "", "account control total", trailer, self.file)
        return (declared if declared is not None else total), lines

    def detail(
        self, detail: Any, rec: _Record, account: str, currency: str, as_of: dt.date
    ) -> None:
        code = rec.lines[0].split(",")[1].strip() if "," in rec.lines[0] else ""
        amount = detail.amount
        if amount is None:
            self.problems.append(
                Problem("transaction without an amount", line=rec.line, field="16 amount")
            )
            return
        if code.isdigit() and 100 <= int(code) <= 399:
            sign = 1
        elif code.isdigit() and 400 <= int(code) <= 699:
            sign = -1
        else:
            direction = getattr(getattr(detail.type_code, "transaction", None), "value", None)
            if direction not in ("credit", "debit"):
                self.problems.append(
                    Problem(
                        f"type code {code or '(blank)'} is neither a credit (100-399) nor a "
                        "debit (400-699)",
                        line=rec.line,
                        field="16 type code",
                    )
                )
                return
            sign = 1 if direction == "credit" else -1
        signed = sign * int(amount)
        bank_ref = clean_ref(detail.bank_reference)
        value_on = None
        if detail.availability and isinstance(detail.availability, dict):
            value_on = detail.availability.get("date")
        text = clean_text((detail.text or "").strip(" ,"))
        type_name = detail.type_code.description if code in TypeCodes else None
        row: dict[str, Any] = {
            "line_no": rec.line,
            "account": account,
            "external_id": bank_ref,
            "bank_ref": bank_ref,
            "booked_on": as_of,
            "value_on": value_on,
            "amount_minor": signed,
            "currency": currency,
            "kind": bank_kind(signed),
            "description": text or type_name,
            "raw": {
                "type_code": code,
                "type": type_name,
                "funds_type": getattr(detail.funds_type, "value", None),
                "bank_reference": detail.bank_reference,
                "customer_reference": detail.customer_reference,
            },
        }
        add_refs(row, "customer", [detail.customer_reference])
        self.rows.append(row)

    def check_summaries(
        self,
        rec: _Record,
        account: str,
        currency: str,
        summaries: dict[str, int],
        rows: list[dict[str, Any]],
        details: int,
    ) -> None:
        """Opening ledger (010) + details = closing ledger (015); 100/400 = credits/debits."""
        if not details:
            return  # summary-only report: nothing to check the totals against
        label = f"account {account}"
        credits = sum(r["amount_minor"] for r in rows if r["amount_minor"] > 0)
        debits = -sum(r["amount_minor"] for r in rows if r["amount_minor"] < 0)
        if "010" in summaries and "015" in summaries:
            problem = balance_problem(
                label=label,
                currency=currency,
                opening=summaries["010"],
                movements=credits - debits,
                closing=summaries["015"],
                line=rec.line,
                field="03 closing ledger (015)",
            )
            if problem:
                self.checks.append(problem)
        for code, found, name in (("100", credits, "credits"), ("400", debits, "debits")):
            if code in summaries and summaries[code] != found:
                self.checks.append(
                    Problem(
                        f"{label}: total {name} ({code}) is "
                        f"{format_minor(summaries[code], currency)} {currency}, the transactions "
                        f"add up to {format_minor(found, currency)}",
                        line=rec.line,
                        field=f"03 total {name} ({code})",
                    )
                )


class Bai2Importer:
    """BAI2."""

    name = "bai2"
    label = "BAI2 cash management"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not text.startswith(b"01,"):
            return 0
        if b"\n02," in text or b"\n03," in text or b"\r02," in text:
            return 95
        return 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        file = str(path)
        check_line_length(data, file)
        text, _encoding = decode(data, file=file)
        records = _records(text, file)
        if progress:
            progress(0, 2, "Reading BAI2")
        try:
            model = bai2_parser.parse_from_lines(_package_lines(records), check_integrity=False)
        except (ParsingException, NotSupportedYetException, IntegrityException) as exc:
            raise UserError(f"BAI2 file cannot be read: {exc}", file=file) from exc
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            raise UserError(
                f"BAI2 file cannot be read ({type(exc).__name__}: {exc}); a date, time or "
                "number field is malformed",
                file=file,
            ) from exc
        reader = _Reader(file, records)
        reader.read(model)
        if progress:
            progress(1, 2, "Checked control totals")
        return reader.result("bai2", len(reader.rows) + len(reader.problems))


IMPORTER = Bai2Importer()
