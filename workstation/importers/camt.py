"""ISO 20022 camt.052 / camt.053 / camt.054 bank statements, reports and notifications.

Read with lxml by local name, so every version (.01 to .13) and any namespace prefix works; the
2007 version .01 names its message `BkToCstmrStmtV01` (...V01), keeps `Btch`/`TxDtls` directly in
the entry, types a balance as `Tp/Cd` and may give the account as `PrtryAcct`/`BBAN`/`UPIC`. The
parser never expands entities or fetches anything, and a document with a DOCTYPE is refused: bank
statements have none, XML bombs and external-entity attacks need one. One record per booked entry
(`Ntry`, the line on the bank statement); the references of all its transaction details (`TxDtls`)
become reference tokens, so a batch booking can be matched to each of its payments.

Balances: the opening balance is OPBD, else PRCD (the previous statement's closing balance); the
closing balance is CLBD; when a statement gives both OPBD and PRCD, OPBD is used whatever the
order. Booking and value date-times are the bank's dates (`banktime`: a UTC time is read in the
zone of the account's IBAN country). A ZIP archive of camt files (`archive`) is one import: every
member is read as its own document into one result, and a member that is not camt refuses the
whole archive by name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..money import to_minor
from . import archive
from .bankcommon import (
    StatementReader,
    account_number,
    add_refs,
    balance_problem,
    bank_kind,
    clean_ref,
    clean_text,
)
from .banktime import bank_date, bank_zone
from .base import AccountInfo, ImportOptions, ParseResult, Problem, Progress
from .camtxml import parse_xml

# Message element -> (statement element, message name).
_MESSAGES = {
    "BkToCstmrStmt": ("Stmt", "camt.053"),
    "BkToCstmrAcctRpt": ("Rpt", "camt.052"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", "camt.054"),
}
# Version .01 message element -> the name of later versions.
_V01 = {f"{name}V01": name for name in _MESSAGES}
_AMOUNT = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,10})?$")
# Balance types in order of preference (the first one a statement gives in a currency is used).
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)
_ACCOUNT_IDS = ("Id/IBAN", "Id/Othr/Id", "Id/PrtryAcct/Id", "Id/BBAN", "Id/UPIC")
_SERVICER = (
    "Svcr/FinInstnId/BIC",
    "Svcr/FinInstnId/BICFI",
    "Svcr/FinInstnId/Nm",
    "Svcr/FinInstnId/NmAndAdr/Nm",
    "Svcr/FinInstnId/CmbndId/BIC",
)
# Transaction-detail references worth matching on, with the token kind they are stored as.
_TX_REFS = (
    ("Refs/EndToEndId", "e2e"),
    ("Refs/UETR", "uetr"),
    ("Refs/InstrId", "instr"),
    ("Refs/TxId", "txid"),
    ("Refs/AcctSvcrRef", "svcr"),
    ("Refs/PmtInfId", "pmtinf"),
    ("Refs/MsgId", "msgid"),
    ("Refs/MndtId", "mandate"),
    ("Refs/ChqNb", "cheque"),
    ("Refs/ClrSysRef", "clrsys"),
    ("Refs/Prtry/Ref", "prtry"),
    ("RmtInf/Strd/CdtrRefInf/Ref", "cref"),
    ("RmtInf/Strd/RfrdDocInf/Nb", "doc"),
)


@dataclass
class _Statement:
    """Context of one Stmt/Rpt/Ntfctn while its entries are read."""

    ident: str | None
    account: str
    created: dt.date | None
    zone: dt.tzinfo | None = None  # the bank's time zone, None when not known (then UTC)


def _text(el: Any, path: str) -> str | None:
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _first(el: Any, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        if value := _text(el, path):
            return value
    return None


def _in_any(elements: list[Any], path: str) -> str | None:
    """The first text at `path` in any of `elements` (the transaction details of an entry)."""
    return next((v for el in elements if (v := _text(el, path))), None)


def _texts(el: Any, path: str) -> list[str]:
    return [f.text.strip() for f in el.iterfind(path) if f.text and f.text.strip()]


def _creation_date(text: str | None) -> dt.date | None:
    """Date of a CreDtTm as written (only a fallback for entries without any date)."""
    try:
        return dt.datetime.fromisoformat(text).date() if text else None
    except ValueError:
        return None


class _Reader(StatementReader):
    """Walks camt documents and collects rows, accounts, problems and notes."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.notes: list[str] = []

    # -- values -------------------------------------------------------------------------------

    def amount(self, el: Any, field: str) -> tuple[Decimal, str]:
        """(unsigned Decimal, currency) of an `Amt Ccy=...` element; bad values are fatal."""
        raw = (el.text or "").strip()
        ccy = (el.get("Ccy") or "").strip().upper()
        if not _AMOUNT.match(raw):
            raise UserError(
                f"not an amount: {raw!r}", file=self.file, line=el.sourceline, field=field
            )
        if not re.fullmatch(r"[A-Z]{3}", ccy):
            raise UserError(
                f"amount {raw} has no valid currency (Ccy={ccy!r})",
                file=self.file,
                line=el.sourceline,
                field=f"{field}@Ccy",
            )
        return Decimal(raw), ccy

    def date(
        self, el: Any | None, field: str, zone: dt.tzinfo | None = None
    ) -> tuple[dt.date | None, dt.datetime | None]:
        """(the bank's date, aware UTC datetime or None) of a `Dt`/`DtTm` choice.

        A date is taken as written; a date-time by `banktime.bank_date` (a UTC time in `zone`).
        """
        if el is None:
            return None, None
        node = el.find("Dt")
        if node is None:
            node = el.find("DtTm")
        raw = (node.text or "").strip() if node is not None else (el.text or "").strip()
        if not raw:
            return None, None
        line = node.sourceline if node is not None else el.sourceline
        try:
            if len(raw) <= 10:
                return dt.date.fromisoformat(raw), None
            stamp = dt.datetime.fromisoformat(raw)
        except ValueError as exc:
            raise UserError(f"not a date: {raw!r}", file=self.file, line=line, field=field) from exc
        utc = stamp.astimezone(dt.UTC) if stamp.tzinfo else None
        return bank_date(stamp, zone), utc

    # -- structure ----------------------------------------------------------------------------

    def statement(self, stmt: Any, tag: str, group_created: dt.date | None) -> None:
        acct = stmt.find("Acct")
        number = None
        if acct is not None:
            number = account_number(_first(acct, _ACCOUNT_IDS))
        if not number:
            raise UserError(
                f"the <{tag}> has no account id (Acct/Id/IBAN, Acct/Id/Othr/Id or, in version "
                ".01, Acct/Id/PrtryAcct/Id, BBAN or UPIC)",
                file=self.file,
                line=stmt.sourceline,
                field=f"{tag}/Acct",
            )
        created = _creation_date(_text(stmt, "CreDtTm"))
        ctx = _Statement(_text(stmt, "Id"), number, created or group_created, bank_zone(number))
        if number not in self.accounts:
            self.accounts[number] = AccountInfo(
                key=number,
                kind="bank",
                provider=_first(acct, _SERVICER),
                account_number=number,
                currency=_text(acct, "Ccy"),
            )
        first = len(self.rows)
        for ntry in stmt.iterfind("Ntry"):
            self.entry(ntry, ctx)
        info = self.accounts[number]
        if info.currency is None:  # no Acct/Ccy: the entries' (or the balances') currency
            amounts = [r["currency"] for r in self.rows[first:]]
            amounts += [el.get("Ccy") for el in stmt.iterfind("Bal/Amt") if el.get("Ccy")]
            info.currency = amounts[0] if amounts else None
        self.check_balances(stmt, ctx, self.rows[first:])

    def entry(self, ntry: Any, ctx: _Statement) -> None:
        line = ntry.sourceline
        status = (_text(ntry, "Sts/Cd") or _text(ntry, "Sts") or "BOOK").upper()
        if status != "BOOK":
            self.problems.append(
                Problem(
                    f"entry with status {status} (not booked) left out; it comes again once "
                    "the bank books it",
                    line=line,
                    field="Ntry/Sts",
                    severity="warning",
                )
            )
            return
        amt_el = ntry.find("Amt")
        if amt_el is None:
            self.problems.append(Problem("entry has no amount", line=line, field="Ntry/Amt"))
            return
        amount, ccy = self.amount(amt_el, "Ntry/Amt")
        indicator = (_text(ntry, "CdtDbtInd") or "").upper()
        if indicator not in ("CRDT", "DBIT"):
            self.problems.append(
                Problem(
                    f"credit/debit indicator {indicator or 'missing'}; expected CRDT or DBIT",
                    line=line,
                    field="Ntry/CdtDbtInd",
                )
            )
            return
        minor = self.minor_units(
            amount,
            ccy,
            f"amount {amt_el.text.strip()} {ccy}",
            line=amt_el.sourceline,
            field="Ntry/Amt",
            into=self.problems,
        )
        if minor is None:
            return
        # CdtDbtInd is the direction of this booking; RvslInd only says it reverses an earlier
        # opposite booking (a returned credit is DBIT + RvslInd=true), so it never flips the sign.
        signed = minor if indicator == "CRDT" else -minor
        reversal = (_text(ntry, "RvslInd") or "").lower() in ("true", "1")
        booked, occurred = self.date(ntry.find("BookgDt"), "Ntry/BookgDt", ctx.zone)
        value_on, _ = self.date(ntry.find("ValDt"), "Ntry/ValDt", ctx.zone)
        if booked is None:
            booked = value_on or ctx.created
            if booked is None:
                self.problems.append(
                    Problem("entry has no booking date", line=line, field="Ntry/BookgDt")
                )
                return
            self.problems.append(
                Problem(
                    f"entry has no booking date; {booked.isoformat()} "
                    f"({'value date' if value_on else 'date of the message'}) is used",
                    line=line,
                    field="Ntry/BookgDt",
                    severity="warning",
                )
            )
        svcr_ref = clean_ref(_text(ntry, "AcctSvcrRef"))
        ntry_ref = clean_ref(_text(ntry, "NtryRef"))
        external_id = svcr_ref or ntry_ref
        row: dict[str, Any] = {
            "line_no": line,
            "account": ctx.account,
            "external_id": external_id,
            "bank_ref": external_id,
            "booked_on": booked,
            "value_on": value_on,
            "occurred_at": occurred,
            "amount_minor": signed,
            "currency": ccy,
            "kind": bank_kind(signed),
        }
        if svcr_ref and ntry_ref:
            add_refs(row, "ntryref", [ntry_ref])
        # Version .01 has Btch and TxDtls directly in the Ntry, later versions in NtryDtls.
        details = ntry.findall("NtryDtls/TxDtls") or ntry.findall("TxDtls")
        batch = ntry.find("NtryDtls/Btch")
        if batch is None:
            batch = ntry.find("Btch")
        if batch is not None:
            add_refs(row, "msgid", [_text(batch, "MsgId")])
            add_refs(row, "pmtinf", [_text(batch, "PmtInfId")])
        for path, kind in _TX_REFS:
            add_refs(row, kind, [_text(tx, path) for tx in details])
        parties = []
        texts: list[str] = []
        for tx in details:
            first, second = ("Dbtr", "Cdtr") if indicator == "CRDT" else ("Cdtr", "Dbtr")
            name = (
                _text(tx, f"RltdPties/{first}/Nm")
                or _text(tx, f"RltdPties/{first}/Pty/Nm")
                or _text(tx, f"RltdPties/{second}/Nm")
                or _text(tx, f"RltdPties/{second}/Pty/Nm")
            )
            if name and name not in parties:
                parties.append(name)
            texts += _texts(tx, "RmtInf/Ustrd") + _texts(tx, "AddtlTxInf")
        texts += _texts(ntry, "AddtlNtryInf")
        row["counterparty"] = clean_text(*parties, sep="; ")
        row["description"] = clean_text(*texts)
        self.foreign_amount(ntry, details, row, ccy)
        codes = [
            _text(ntry, "BkTxCd/Domn/Cd"),
            _text(ntry, "BkTxCd/Domn/Fmly/Cd"),
            _text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
        ]
        row["raw"] = {
            "statement": ctx.ident,
            "entry_ref": ntry_ref,
            "servicer_ref": svcr_ref,
            "indicator": indicator,
            "reversal": reversal,
            "status": status,
            "bank_transaction_code": "/".join(c for c in codes if c) or None,
            "proprietary_code": _text(ntry, "BkTxCd/Prtry/Cd"),
            "transaction_details": len(details),
            "batch_count": _text(batch, "NbOfTxs") if batch is not None else None,
            "return_reason": _in_any(details, "RtrInf/Rsn/Cd"),
            "counterparty_account": _in_any(
                details, f"RltdPties/{'Dbtr' if indicator == 'CRDT' else 'Cdtr'}Acct/Id/IBAN"
            ),
        }
        self.rows.append(row)

    def foreign_amount(self, ntry: Any, details: list[Any], row: dict[str, Any], ccy: str) -> None:
        """The instructed amount when it is in another currency than the booking."""
        sources = [ntry] + (details if len(details) == 1 else [])
        for src in sources:
            el = src.find("AmtDtls/InstdAmt/Amt")
            if el is None or (el.get("Ccy") or "").upper() in ("", ccy):
                continue
            try:
                amount, other = self.amount(el, "AmtDtls/InstdAmt/Amt")
                minor = to_minor(amount, other)
            except (UserError, ValueError):
                return
            row["orig_amount_minor"] = minor if row["amount_minor"] >= 0 else -minor
            row["orig_currency"] = other
            return

    def balance(self, bal: Any) -> tuple[str, int, str, int] | None:
        """(type code, signed minor units, currency, line) of a `Bal`, None if unreadable."""
        code = (
            _first(bal, ("Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry", "Tp/Cd", "Tp/Prtry")) or ""
        ).upper()
        el = bal.find("Amt")
        if el is None:
            return None
        amount, ccy = self.amount(el, "Bal/Amt")
        minor = self.minor_units(
            amount,
            ccy,
            f"{code} balance {amount} {ccy}",
            line=el.sourceline,
            field="Bal/Amt",
            into=self.checks,
        )
        if minor is None:
            return None
        if (_text(bal, "CdtDbtInd") or "CRDT").upper() == "DBIT":
            minor = -minor
        return code, minor, ccy, bal.sourceline

    def preferred(
        self, balances: list[tuple[str, int, str, int]], codes: tuple[str, ...], label: str
    ) -> dict[str, tuple[int, int]]:
        """Currency -> (minor units, line) of the balance of the most preferred type in `codes`.

        The order of the balances in the file does not matter; when a less preferred type is
        given too (PRCD next to OPBD), a note says which one was used.
        """
        chosen: dict[str, tuple[int, int, str]] = {}
        others: dict[str, list[str]] = {}
        for code, minor, ccy, line in balances:
            if code not in codes:
                continue
            if ccy in chosen and codes.index(chosen[ccy][2]) <= codes.index(code):
                others.setdefault(ccy, []).append(code)
                continue
            if ccy in chosen:
                others.setdefault(ccy, []).append(chosen[ccy][2])
            chosen[ccy] = (minor, line, code)
        for ccy, skipped in others.items():
            used = chosen[ccy][2]
            self.notes.append(
                f"{label}: {used} used as the {'opening' if used in _OPENING else 'closing'} "
                f"balance in {ccy}; {', '.join(sorted(set(skipped)))} also given, not used"
            )
        return {ccy: (minor, line) for ccy, (minor, line, _) in chosen.items()}

    def check_balances(self, stmt: Any, ctx: _Statement, rows: list[dict[str, Any]]) -> None:
        """Opening (OPBD/PRCD) + booked entries = closing (CLBD), per currency."""
        balances = [b for b in (self.balance(el) for el in stmt.iterfind("Bal")) if b]
        label = f"statement {ctx.ident or ''} of {ctx.account}".replace("  ", " ")
        openings = self.preferred(balances, _OPENING, label)
        closings = self.preferred(balances, _CLOSING, label)
        for ccy, (closing, line) in closings.items():
            if ccy not in openings:
                if openings:
                    self.checks.append(
                        Problem(
                            f"{label}: closing balance in {ccy} but opening balance in "
                            f"{', '.join(sorted(openings))}; balances not checked",
                            line=line,
                            field="Bal",
                            severity="warning",
                        )
                    )
                continue
            movements = sum(r["amount_minor"] for r in rows if r["currency"] == ccy)
            problem = balance_problem(
                label=label,
                currency=ccy,
                opening=openings[ccy][0],
                movements=movements,
                closing=closing,
                line=line,
                field="Bal CLBD",
            )
            if problem:
                self.checks.append(problem)
        count = _text(stmt, "TxsSummry/TtlNtries/NbOfNtries")
        entries = len(stmt.findall("Ntry"))
        if count is not None and count.isdigit() and int(count) != entries:
            self.checks.append(
                Problem(
                    f"{label}: the summary says {count} entries, the statement has {entries}",
                    line=stmt.find("TxsSummry").sourceline,
                    field="TxsSummry/TtlNtries/NbOfNtries",
                )
            )


def _message(root: Any) -> Any | None:
    """The BkToCstmr... message element of a document (any version), or None."""
    for name in (*_MESSAGES, *_V01):
        message = root if root.tag == name else root.find(f".//{name}")
        if message is not None:
            return message
    return None


def _read_document(data: bytes, file: str, reader: _Reader) -> str:
    """Read one camt document into `reader`; its message name (camt.053...)."""
    root = parse_xml(data, file)
    message = _message(root)
    if message is None:
        raise UserError(
            f"XML root <{root.tag}> is not a camt.052/053/054 message (no BkToCstmrStmt, "
            "BkToCstmrAcctRpt or BkToCstmrDbtCdtNtfctn)",
            file=file,
            line=root.sourceline,
        )
    child, kind = _MESSAGES[_V01.get(message.tag, message.tag)]
    statements = message.findall(child)
    if not statements:
        msg_id = _text(message, "GrpHdr/MsgId")
        raise UserError(
            f"the {kind} message {msg_id or ''} has a group header but no <{child}>: "
            "the bank sent an empty or cut-off file, there is nothing to import".replace("  ", " "),
            file=file,
            line=message.sourceline,
            field=f"{message.tag}/{child}",
        )
    group_created = _creation_date(_text(message, "GrpHdr/CreDtTm"))
    reader.file = file
    for stmt in statements:
        reader.statement(stmt, child, group_created)
    return kind


def _sniff_xml(head: bytes) -> int:
    text = (
        head.decode("utf-16", errors="replace") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else head
    )
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    if not text.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return 0
    if any(name.encode() in text for name in _MESSAGES):  # BkToCstmrStmtV01 included
        return 100
    if b"urn:iso:std:iso:20022:tech:xsd:camt.05" in text:
        return 90
    return 0


class CamtImporter:
    """camt.052 / camt.053 / camt.054, as XML files or a ZIP archive of them."""

    name = "camt"
    label = "ISO 20022 camt.052/053/054"

    def sniff(self, head: bytes, filename: str) -> int:
        if archive.is_zip(head):  # a ZIP whose first file (or another one) is camt XML
            camt = [bool(_sniff_xml(data)) for _, data in archive.member_heads(head)]
            return 95 if camt[:1] == [True] else 60 if any(camt) else 0
        return _sniff_xml(head)

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        file = str(path)
        if archive.is_zip(data):
            return self.parse_archive(file, data, progress)
        if progress:
            progress(0, 2, "Reading camt XML")
        reader = _Reader(file)
        kind = _read_document(data, file, reader)
        if progress:
            progress(1, 2, "Checking balances")
        return self.result(reader, kind)

    def parse_archive(self, file: str, data: bytes, progress: Progress | None) -> ParseResult:
        """Every member of a ZIP archive as its own camt document, in one result (one batch).

        A member that is not camt XML refuses the archive, naming the member; problems and
        checks of a member name it in their field, the rows name it in `raw.archive_member`.
        """
        members, skipped = archive.read_members(data, file)
        for m in members:
            if archive.is_zip(m.data) or not _sniff_xml(m.data[:65536]):
                raise UserError(
                    f"the archive member {m.name!r} is not a camt.052/053/054 XML file; a ZIP is "
                    "imported only when every file in it is camt, so nothing was imported",
                    file=file,
                    field=f"member {m.name}",
                )
        reader = _Reader(file)
        kinds: list[str] = []
        for i, m in enumerate(members):
            if progress:
                progress(i, len(members) + 1, f"Reading {m.name}")
            rows, problems, checks = len(reader.rows), len(reader.problems), len(reader.checks)
            kind = _read_document(m.data, f"{file} [{m.name}]", reader)
            if kind not in kinds:
                kinds.append(kind)
            for row in reader.rows[rows:]:
                row["raw"]["archive_member"] = m.name
            for p in reader.problems[problems:] + reader.checks[checks:]:
                p.field = f"{p.field} in {m.name}" if p.field else m.name
        reader.file = file
        reader.notes.insert(
            0,
            f"ZIP archive: {len(members)} camt file(s) read ({', '.join(m.name for m in members)})"
            + (f"; {len(skipped)} folder/resource-fork entries skipped" if skipped else ""),
        )
        if progress:
            progress(len(members), len(members) + 1, "Checking balances")
        return self.result(reader, "+".join(sorted(kinds)))

    @staticmethod
    def result(reader: _Reader, kind: str) -> ParseResult:
        rows_total = len(reader.rows) + sum(1 for p in reader.problems if p.severity == "error")
        result = reader.result(kind, rows_total)
        result.notes = reader.notes
        return result


IMPORTER = CamtImporter()
