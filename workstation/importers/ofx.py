"""OFX / QFX statements: 1.x SGML and 2.x XML, bank and credit-card accounts, via `ofxparse`.

`ofxparse` turns the SGML (leaf tags never closed, aggregates sometimes not either) into a tree;
the fields are then read here from that tree, because `ofxparse`'s own transaction parser drops
what this workstation needs: it converts times to naive UTC (losing the statement's local date),
refuses empty FITID or NAME tags, and cannot say where a bad value is. Each tag keeps its source
line, so a bad TRNAMT or DTPOSTED is reported with its line. FITID is the line's id.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

from ofxparse.ofxparse import OfxPreprocessedFile, soup_maker

from ..errors import UserError
from ..money import parse_decimal, to_minor
from .bankcommon import (
    StatementReader,
    add_refs,
    bank_kind,
    clean_ref,
    clean_text,
    mask_card_number,
)
from .base import AccountInfo, ImportOptions, ParseResult, Problem, Progress
from .text import decode

_DATE = re.compile(
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
    r"(?:(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?(?:[.:]\d{1,6})?)?"
    r"\s*(?:\[\s*(?P<tz>[+-]?\d{1,2}(?:\.\d+)?)\s*(?::\s*[A-Za-z]*\s*)?\])?$"
)
_NUMBER = re.compile(r"^[+-]?(?:[0-9][0-9,.]*|[.,][0-9]+)$")
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "LATIN1": "latin-1"}


class _Prepared(OfxPreprocessedFile):  # type: ignore[misc]
    """`ofxparse`'s SGML pre-processor fed with text decoded here (it would assume ASCII)."""

    def read_headers(self) -> None:
        head: bytes = self.fh.read(10240)
        cut = head.find(b"<")
        headers: dict[str, str] = {}
        for line in (head[:cut] if cut >= 0 else head).splitlines():
            if b":" in line:
                key, value = line.split(b":", 1)
                headers[key.strip().upper().decode("ascii", "replace")] = value.strip().decode(
                    "ascii", "replace"
                )
        self.headers: dict[str, str] = headers

    def handle_encoding(self) -> None:
        raw: Any = self.fh
        self.fh: Any = codecs.getreader("utf-8")(raw)


def _decode(data: bytes, file: str) -> str:
    """UTF-8 if it is, else the SGML header's CHARSET, else detected."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    head = data[:4096].decode("latin-1")
    m = re.search(r"CHARSET:\s*([\w-]+)", head)
    if m and m.group(1).upper() in _CHARSETS:
        try:
            return data.decode(_CHARSETS[m.group(1).upper()])
        except UnicodeDecodeError as exc:
            raise UserError(
                f"byte 0x{data[exc.start]:02X} is not {m.group(1)} text as the header declares",
                file=file,
                line=data.count(b"\n", 0, exc.start) + 1,
            ) from None
    return decode(data, file=file)[0]


def _leaf(parent: Any, name: str) -> tuple[str | None, int | None]:
    """(stripped text or None when the tag is absent, source line) of a leaf tag."""
    if parent is None:
        return None, None
    el = parent.find(name)
    if el is None:
        return None, None
    first = el.contents[0] if el.contents else ""
    text = first if isinstance(first, str) else ""
    return text.strip(), el.sourceline


def _date(raw: str) -> tuple[dt.date, dt.datetime | None]:
    """(local date as written, aware UTC time or None) of an OFX date; ValueError if invalid."""
    m = _DATE.match(raw.strip())
    if not m:
        raise ValueError(f"not an OFX date: {raw!r}")
    day = dt.date(int(m["y"]), int(m["m"]), int(m["d"]))
    if m["H"] is None:
        return day, None
    offset = dt.timedelta(hours=float(m["tz"])) if m["tz"] else dt.timedelta(0)
    local = dt.datetime.combine(
        day, dt.time(int(m["H"]), int(m["M"]), int(m["S"] or 0)), dt.timezone(offset)
    )
    return day, local.astimezone(dt.UTC)


def _amount(raw: str) -> Decimal:
    """TRNAMT: a signed number with `.` or `,` as decimal mark; ValueError otherwise."""
    text = raw.strip()
    if not _NUMBER.match(text):
        raise ValueError(f"not an amount: {raw!r}")
    return parse_decimal(text, decimal_comma="," in text and "." not in text)


class _Reader(StatementReader):
    """Reads the statements of one OFX tree."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.bad_rows = 0

    def fatal(self, message: str, line: int | None, field: str) -> UserError:
        return UserError(message, file=self.file, line=line, field=field)

    def statement(self, stmt: Any, index: int, fallback_ccy: str | None, org: str | None) -> None:
        card = stmt.name == "ccstmtrs"
        acct_el = stmt.find("ccacctfrom" if card else "bankacctfrom")
        acctid, _ = _leaf(acct_el, "acctid")
        bankid, _ = _leaf(acct_el, "bankid")
        accttype, _ = _leaf(acct_el, "accttype")
        number = (mask_card_number(acctid) if card else acctid) or None
        what = "credit card" if card else "bank"
        key = f"{'card' if card else 'bank'}:{number}" if number else f"statement-{index}"
        if number is None:
            self.problems.append(
                Problem(
                    f"the {what} statement has no account id ({'CC' if card else 'BANK'}ACCTFROM/"
                    "ACCTID); its lines go to a generic account, choose one with --account",
                    line=stmt.sourceline,
                    field="ACCTID",
                    severity="warning",
                )
            )
        curdef, _ = _leaf(stmt, "curdef")
        currency = (curdef or "").upper() or None
        txns = [
            t for t in stmt.find_all("stmttrn") if t.find_parent(["stmtrs", "ccstmtrs"]) is stmt
        ]
        if currency is None and txns:
            symbols = {(_leaf(t.find("currency"), "cursym")[0] or "").upper() for t in txns}
            symbols.discard("")
            if len(symbols) == 1:
                currency = symbols.pop()
            elif fallback_ccy:
                currency = fallback_ccy
            else:
                raise self.fatal(
                    f"the {what} statement has no currency (CURDEF) and nothing else in the "
                    "file names one",
                    stmt.sourceline,
                    "CURDEF",
                )
            self.problems.append(
                Problem(
                    f"the {what} statement has no currency (CURDEF); {currency} is used",
                    line=stmt.sourceline,
                    field="CURDEF",
                    severity="warning",
                )
            )
        self.accounts.setdefault(
            key,
            AccountInfo(
                key=key,
                kind="bank",
                provider=bankid or org,
                name=None if number else f"OFX {what} account without id",
                account_number=number,
                currency=currency,
            ),
        )
        empty_fitid = 0
        for txn in txns:
            row = self.transaction(txn, key, currency, accttype)
            if row is not None:
                empty_fitid += row["external_id"] is None
                self.rows.append(row)
        if empty_fitid:
            self.problems.append(
                Problem(
                    f"{empty_fitid} line(s) of the {what} statement have no FITID; repeated "
                    "imports recognise them by date and amount only",
                    line=stmt.sourceline,
                    field="FITID",
                    severity="warning",
                )
            )

    def transaction(
        self, txn: Any, account: str, currency: str | None, accttype: str | None
    ) -> dict[str, Any] | None:
        line = txn.sourceline
        raw_amount, amount_line = _leaf(txn, "trnamt")
        raw_posted, posted_line = _leaf(txn, "dtposted")
        if raw_amount:
            try:
                amount = _amount(raw_amount)
            except ValueError:
                raise self.fatal(f"not an amount: {raw_amount!r}", amount_line, "TRNAMT") from None
        if raw_posted:
            try:
                booked, occurred = _date(raw_posted)
            except ValueError:
                raise self.fatal(
                    f"not a date: {raw_posted!r} (expected YYYYMMDD[HHMMSS][.XXX][[offset:TZ]])",
                    posted_line,
                    "DTPOSTED",
                ) from None
        missing = [n for n, v in (("TRNAMT", raw_amount), ("DTPOSTED", raw_posted)) if not v]
        if missing:
            self.bad_rows += 1
            self.problems.append(
                Problem(
                    f"transaction without {' and '.join(missing)} left out",
                    line=line,
                    field=missing[0],
                )
            )
            return None
        cur_el = txn.find("currency")
        orig_el = txn.find("origcurrency")
        line_ccy = (_leaf(cur_el, "cursym")[0] or "").upper() or currency
        if line_ccy is None:  # pragma: no cover - statement() resolves a currency first
            raise self.fatal("no currency for this line", line, "CURDEF")
        minor = self.minor_units(
            amount,
            line_ccy,
            f"amount {raw_amount}",
            line=amount_line,
            field="TRNAMT",
            into=self.problems,
        )
        if minor is None:
            self.bad_rows += 1
            return None
        fitid = clean_ref(_leaf(txn, "fitid")[0])
        name = _leaf(txn, "name")[0] or _leaf(txn.find("payee"), "name")[0]
        memo = _leaf(txn, "memo")[0]
        avail = _leaf(txn, "dtavail")[0]
        value_on = None
        if avail:
            try:
                value_on = _date(avail)[0]
            except ValueError:
                value_on = None
        trntype = (_leaf(txn, "trntype")[0] or "").upper() or None
        row: dict[str, Any] = {
            "line_no": line,
            "account": account,
            "external_id": fitid,
            "bank_ref": fitid,
            "booked_on": booked,
            "value_on": value_on,
            "occurred_at": occurred,
            "amount_minor": minor,
            "currency": line_ccy,
            "kind": bank_kind(minor),
            "counterparty": clean_text(name),
            "description": clean_text(memo) or clean_text(name),
            "raw": {
                "trntype": trntype,
                "fitid": _leaf(txn, "fitid")[0],
                "dtposted": raw_posted,
                "dtuser": _leaf(txn, "dtuser")[0],
                "sic": _leaf(txn, "sic")[0],
                "account_type": accttype,
                "correct_action": _leaf(txn, "correctaction")[0],
                "running_balance": _leaf(txn, "acctbal")[0],
            },
        }
        if orig_el is not None:
            row["orig_currency"] = (_leaf(orig_el, "cursym")[0] or "").upper() or None
            row["raw"]["orig_rate"] = _leaf(orig_el, "currate")[0]
        add_refs(row, "check", [_leaf(txn, "checknum")[0]])
        add_refs(row, "refnum", [_leaf(txn, "refnum")[0]])
        add_refs(row, "srvrtid", [_leaf(txn, "srvrtid")[0]])
        add_refs(row, "payee", [_leaf(txn, "payeeid")[0]])
        add_refs(row, "correct", [_leaf(txn, "correctfitid")[0]])
        if row["raw"]["correct_action"]:
            self.problems.append(
                Problem(
                    f"the bank corrects FITID {_leaf(txn, 'correctfitid')[0]} with this line "
                    f"({row['raw']['correct_action']}); the corrected line is not removed",
                    line=line,
                    field="CORRECTACTION",
                    severity="warning",
                )
            )
        return row

    def check_running_balance(self, stmt: Any, key: str, rows: list[dict[str, Any]]) -> None:
        """LEDGERBAL against the last running balance (non-standard ACCTBAL), when both exist."""
        ledger, ledger_line = _leaf(stmt.find("ledgerbal"), "balamt")
        info = self.accounts.get(key)
        if not ledger or not rows or info is None or info.currency is None:
            return
        balances = [r["raw"].get("running_balance") for r in rows]
        if not all(balances):
            return
        latest = max(range(len(rows)), key=lambda i: (rows[i]["booked_on"], i))
        try:
            expected = to_minor(_amount(ledger), info.currency)
            found = to_minor(_amount(balances[latest]), info.currency)
        except ValueError:
            return
        if expected != found:
            self.checks.append(
                Problem(
                    f"ledger balance {ledger} differs from the running balance "
                    f"{balances[latest]} after the latest line (line {rows[latest]['line_no']})",
                    line=ledger_line,
                    field="LEDGERBAL",
                    severity="warning",
                )
            )


class OfxImporter:
    """OFX 1.x / 2.x and QFX."""

    name = "ofx"
    label = "OFX / QFX"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head[:8192].upper()
        if b"OFXHEADER" in text or b"<OFX>" in text:
            return 95
        return 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        file = str(path)
        text = _decode(data, file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bs4 notes that XML goes through its HTML parser
            prepared = _Prepared(io.BytesIO(text.encode("utf-8")))
            soup = soup_maker(prepared.fh)
        root = soup.find("ofx")
        if root is None:
            raise UserError("no <OFX> element: not an OFX file, or it is cut off", file=file)
        if not re.search(r"</OFX>\s*$", text, re.IGNORECASE):
            raise UserError(
                "the file does not end with </OFX>: it is truncated (or has data after the end)",
                file=file,
                line=text.count("\n") + 1,
            )
        statements = root.find_all(["stmtrs", "ccstmtrs"])
        if not statements:
            raise UserError(
                "the OFX file has no bank or credit-card statement (STMTRS/CCSTMTRS)",
                file=file,
                line=root.sourceline,
            )
        currencies = {(_leaf(s, "curdef")[0] or "").upper() for s in statements} - {""}
        fallback = next(iter(currencies)) if len(currencies) == 1 else None
        org = _leaf(root.find("fi"), "org")[0]
        reader = _Reader(file)
        for i, stmt in enumerate(statements, 1):
            if progress:
                progress(i - 1, len(statements), "Reading OFX statements")
            first = len(reader.rows)
            reader.statement(stmt, i, fallback, org)
            if len(reader.rows) > first:
                reader.check_running_balance(
                    stmt, reader.rows[first]["account"], reader.rows[first:]
                )
        return reader.result("ofx", len(reader.rows) + reader.bad_rows)


IMPORTER = OfxImporter()
