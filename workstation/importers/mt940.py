"""SWIFT MT940 statements and MT942 interim reports, read with the `mt-940` package.

`mt-940` parses the tags well but takes what it is given on trust: it merges the statements of a
file, clamps 30 February to the 29th, accepts a damaged statement silently and fails on SWIFT FIN
envelopes. So the file goes through a pre-processor first (`mt940_lines`), which keeps line
numbers: it strips SOH/ETX framing bytes, unwraps `{1:}{2:}{4: ... -}` blocks, skips bank preamble
lines (ABN AMRO's `ABNANL2A` / `940`), splits the statements (a `-` inside ING's `:86:` text does
not end one), puts wrapped `:61:` lines back together; this module then checks the tag order,
every date and every `:61:` amount (a damaged one is a row problem, not a guess), and only then
hands each statement to `mt-940`. Balances (`:60F:` + lines = `:62F:`) and MT942 totals
(`:90D:`/`:90C:`) are checked per statement.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import mt940

from ..errors import UserError
from ..money import format_minor, parse_decimal, to_minor
from .bankcommon import (
    StatementReader,
    account_number,
    add_refs,
    balance_problem,
    bank_kind,
    clean_ref,
    clean_text,
)
from .base import AccountInfo, ImportOptions, ParseResult, Problem, Progress
from .mt940_lines import Block, Tag, amount_problem, amount_text, tokenise
from .text import check_line_length, decode

_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>[0-9]+,?[0-9]*)$")
_LINE_HEAD = re.compile(r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])", re.IGNORECASE)
_SUMS = re.compile(r"^(?P<count>\d+)(?P<ccy>[A-Z]{3})(?P<amount>[0-9]+,?[0-9]*)$")
_OPENING = ("60F", "60M")
_CLOSING = ("62F", "62M")
_HEADER = ("20", "21", "25", "28", "28C", "13", "13D", "34F")
_NAMES = {
    "20": "transaction reference",
    "25": "account identification",
    "28C": "statement number",
    "60F": "opening balance",
    "60M": "intermediate opening balance",
    "61": "statement line",
    "62F": "closing balance",
    "62M": "intermediate closing balance",
}


class Statement(mt940.tags.Statement):
    """`:61:` allowing customer references over the 16 characters of SWIFT (ASN Bank sends 18).

    Named like its base class on purpose: `mt-940` derives the processor slug from the name.
    """

    pattern = mt940.tags.Statement.pattern.replace("{0,16}", "{0,34}")


_STRICT_61 = mt940.tags.Statement()
_LENIENT_61 = Statement()


def _date(text: str, file: str, line: int, field: str, year: int | None = None) -> dt.date:
    """YYMMDD (or MMDD with `year`) as a date; an impossible date is fatal."""
    try:
        if year is None:
            return dt.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
        return dt.date(year, int(text[:2]), int(text[2:4]))
    except ValueError as exc:
        shown = f"{text[:2]}-{text[2:4]}" if year else f"20{text[:2]}-{text[2:4]}-{text[4:6]}"
        raise UserError(
            f"invalid date {text!r} ({shown} does not exist)", file=file, line=line, field=field
        ) from exc


def _tag_name(tag: str) -> str:
    name = _NAMES.get(tag)
    return f":{tag}: ({name})" if name else f":{tag}:"


def _check_structure(block: Block, file: str) -> bool:
    """Check the tag order of one statement; returns True for an MT942 interim report."""
    first = block.tags[0]
    if first.tag != "20":
        raise UserError(
            f"statement starts with {_tag_name(first.tag)} instead of :20: (transaction "
            "reference); the file is cut off or not an MT940",
            file=file,
            line=first.line,
            field=f":{first.tag}:",
        )
    seen: dict[str, int] = {}
    last_61: int | None = None
    for t in block.tags:
        key = "60" if t.tag in _OPENING else "62" if t.tag in _CLOSING else t.tag
        if t.tag in _HEADER and t.tag != "20" and ("60" in seen or "61" in seen):
            after = f"the statement line :61: of line {last_61}" if last_61 else "the balance"
            raise UserError(
                f"{_tag_name(t.tag)} comes after {after}, where the line's details (:86:) or "
                f"the next :61: belong: the statement that starts at line {block.line} is "
                "damaged (cut off or run together with another one); ask the bank for a new "
                "export",
                file=file,
                line=t.line,
                field=f":{t.tag}:",
            )
        if key in ("20", "25", "60", "62") and key in seen:
            raise UserError(
                f"{_tag_name(t.tag)} appears twice in the statement that starts at line "
                f"{block.line} (first at line {seen[key]})",
                file=file,
                line=t.line,
                field=f":{t.tag}:",
            )
        if t.tag == "61" and "62" in seen:
            raise UserError(
                f"statement line after the closing balance of line {seen['62']}",
                file=file,
                line=t.line,
                field=":61:",
            )
        if key == "60" and "61" in seen:
            raise UserError(
                "opening balance after the statement lines", file=file, line=t.line, field=":60:"
            )
        if t.tag == "61":
            last_61 = t.line
        seen.setdefault(key, t.line)
    if "25" not in seen:
        raise UserError(
            f"the statement that starts at line {block.line} has no account (:25:)",
            file=file,
            line=block.line,
            field=":25:",
        )
    interim = "60" not in seen and any(k in seen for k in ("34F", "13D", "90D", "90C"))
    if not interim and "60" not in seen:
        raise UserError(
            f"the statement that starts at line {block.line} has no opening balance (:60F:)",
            file=file,
            line=block.line,
            field=":60F:",
        )
    if not interim and "62" not in seen:
        end = block.tags[-1].line
        raise UserError(
            f"the statement that starts at line {block.line} ends at line {end} without a "
            "closing balance (:62F:): the file is truncated",
            file=file,
            line=end,
            field=":62F:",
        )
    return interim


def _check_dates(block: Block, file: str) -> None:
    """Every date of the statement must exist (`mt-940` would turn 30 Feb into 29 Feb)."""
    for t in block.tags:
        value = t.value.strip()
        if t.tag in (*_OPENING, *_CLOSING, "64", "65"):
            m = _BALANCE.match(value)
            if not m:
                raise UserError(
                    f"balance cannot be read: {value!r} (expected C/D, YYMMDD, currency, amount)",
                    file=file,
                    line=t.line,
                    field=f":{t.tag}:",
                )
            _date(m["date"], file, t.line, f":{t.tag}: date")
        elif t.tag == "61":
            m = _LINE_HEAD.match(value)
            if not m:
                raise UserError(
                    f"statement line cannot be read: {value.splitlines()[0]!r}",
                    file=file,
                    line=t.line,
                    field=":61:",
                )
            _date(m["value"], file, t.line, ":61: value date")
            if m["entry"]:
                _date(m["entry"], file, t.line, ":61: entry date", year=2000)
        elif t.tag in ("13", "13D"):
            _date(value[:6], file, t.line, f":{t.tag}: date")


def _statement_lines(block: Block) -> list[tuple[Tag, list[Tag]]]:
    """Each `:61:` with the tags that describe it (its `:86:` and `:NS:`)."""
    out: list[tuple[Tag, list[Tag]]] = []
    current: tuple[Tag, list[Tag]] | None = None
    for t in block.tags:
        if t.tag == "61":
            current = (t, [])
            out.append(current)
        elif t.tag in ("86", "NS") and current is not None:
            if t.tag == "86" and any(x.tag == "86" for x in current[1]):
                current = None  # a second :86: is about the statement, not the line
                continue
            current[1].append(t)
        else:
            current = None
    return out


def _without_bad_lines(block: Block) -> tuple[Block, list[Problem]]:
    """The statement without the `:61:` lines whose amount cannot be read (and their `:86:`
    and `:NS:` details), and a row problem for each of them."""
    problems: list[Problem] = []
    kept: list[Tag] = []
    skipping = False
    skipped_86 = False
    for t in block.tags:
        if t.tag == "61":
            problem = amount_problem(t)
            skipping = problem is not None and problem.severity == "error"
            skipped_86 = False
            if problem is not None:
                problems.append(problem)
            if skipping:
                continue
        elif skipping and t.tag in ("86", "NS") and not (t.tag == "86" and skipped_86):
            skipped_86 = skipped_86 or t.tag == "86"
            continue
        else:
            skipping = False
        kept.append(t)
    if len(kept) == len(block.tags):
        return block, problems
    return Block(line=block.line, tags=kept), problems


def _run_mt940(block: Block, file: str) -> tuple[Any, list[dict[str, Any]]]:
    """Parse one statement with `mt-940`; returns (Transactions, the `:61:` fields per line)."""
    lines_61 = [t for t in block.tags if t.tag == "61"]
    strict = all(_STRICT_61.re.match(t.value.strip()) for t in lines_61)
    for t in lines_61:
        if not _LENIENT_61.re.match(t.value.strip()):
            raise UserError(
                f"statement line cannot be read: {t.value.strip().splitlines()[0]!r}",
                file=file,
                line=t.line,
                field=":61:",
            )
    captured: list[dict[str, Any]] = []

    def capture(_tr: Any, _tag: Any, _tag_dict: Any, result: Any) -> Any:
        captured.append(dict(result))
        return result

    processors = {
        "post_statement": [*mt940.models.Transactions.DEFAULT_PROCESSORS["post_statement"], capture]
    }
    tags: dict[int | str, mt940.tags.Tag] | None = None if strict else {61: _LENIENT_61}
    transactions = mt940.models.Transactions(
        processors=processors, tags=tags, options=mt940.Options.all()
    )
    text = "\n".join(f":{t.tag}:{t.value}" for t in block.tags)
    try:
        transactions.parse(text)
    except (RuntimeError, ValueError, ArithmeticError) as exc:
        raise UserError(
            f"statement cannot be read: {exc.args[0] if exc.args else exc}",
            file=file,
            line=block.line,
        ) from exc
    if len(captured) != len(lines_61) or len(transactions) != len(lines_61):
        raise UserError(
            f"statement lines could not be told apart ({len(lines_61)} :61: tags, "
            f"{len(transactions)} lines read)",
            file=file,
            line=block.line,
        )
    return transactions, captured


def _minor(amount: Decimal, currency: str, file: str, line: int, field: str) -> int:
    try:
        return to_minor(amount, currency)
    except ValueError as exc:
        raise UserError(str(exc), file=file, line=line, field=field) from exc


class _Reader(StatementReader):
    """Turns pre-processed statements into rows, accounts and checks."""

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.interim = False

    def statement(self, block: Block) -> None:
        interim = _check_structure(block, self.file)
        self.interim = self.interim or interim
        _check_dates(block, self.file)
        block, bad = _without_bad_lines(block)
        self.problems.extend(bad)
        transactions, fields61 = _run_mt940(block, self.file)
        data = transactions.data
        currency = transactions.currency
        acct_tag = block.first("25")
        assert acct_tag is not None  # checked by _check_structure
        if not currency:
            raise UserError(
                "the statement has no currency (no balance and no :34F: floor limit)",
                file=self.file,
                line=block.line,
            )
        number = account_number(acct_tag.value.strip(), currency)
        if not number:
            raise UserError("empty account", file=self.file, line=acct_tag.line, field=":25:")
        self.accounts.setdefault(
            number,
            AccountInfo(key=number, kind="bank", account_number=number, currency=currency),
        )
        reference = data.get("transaction_reference")
        first = len(self.rows)
        for (tag61, details), tr, fields in zip(
            _statement_lines(block), transactions, fields61, strict=True
        ):
            self.rows.append(self.line(tag61, details, tr.data, fields, number, reference))
        rows = self.rows[first:]
        label = f"statement {reference or block.line} of {number}"
        # A line left out for its amount makes these fail too, as it should: the statement is
        # short by that line. (The balance message is parsed by `services.imports.checks`.)
        if interim:
            self.check_sums(block, rows, label)
        else:
            self.check_balance(block, data, rows, label)

    def line(
        self,
        tag61: Tag,
        details: list[Tag],
        data: dict[str, Any],
        fields: dict[str, Any],
        account: str,
        statement_ref: str | None,
    ) -> dict[str, Any]:
        amount = data["amount"]
        currency: str = amount.currency or data["currency"]
        written = amount_text(tag61.value)
        if written is None or Decimal(written.replace(",", ".")) != abs(amount.amount):
            raise UserError(  # never expected: mt-940 and the check above read it differently
                f"amount {written!r} was read as {abs(amount.amount)}; the line is not imported",
                file=self.file,
                line=tag61.line,
                field=":61: amount",
            )
        minor = _minor(abs(amount.amount), currency, self.file, tag61.line, ":61: amount")
        signed = -minor if amount.amount < 0 else minor
        value_on = data["date"]
        booked = data.get("entry_date") or value_on
        customer = clean_ref(fields.get("customer_reference"))
        bank = clean_ref(fields.get("bank_reference"))
        external_id = bank or customer
        row: dict[str, Any] = {
            "line_no": tag61.line,
            "account": account,
            "external_id": external_id,
            "bank_ref": external_id,
            "booked_on": dt.date(booked.year, booked.month, booked.day),
            "value_on": dt.date(value_on.year, value_on.month, value_on.day),
            "amount_minor": signed,
            "currency": currency,
            "kind": bank_kind(signed),
        }
        if bank and customer:
            add_refs(row, "customer", [customer])
        add_refs(row, "e2e", [data.get("end_to_end_reference")])
        # mt-940 appends the :86: KREF+ to the :61: customer reference; keep the KREF part.
        merged = data.get("customer_reference") or ""
        raw_customer = fields.get("customer_reference") or ""
        if merged != raw_customer and merged.startswith(raw_customer):
            add_refs(row, "kref", [merged[len(raw_customer) :].strip()])
        add_refs(row, "mandate", [data.get("additional_position_reference")])
        add_refs(row, "creditor", [data.get("applicant_creditor_id")])
        text86 = clean_text(*(d.value for d in details if d.tag == "86"))
        structured = any(data.get(k) for k in ("posting_text", "purpose", "applicant_name"))
        if structured:
            description = clean_text(
                data.get("posting_text"), data.get("purpose"), data.get("additional_purpose")
            )
            counterparty = clean_text(data.get("applicant_name") or data.get("recipient_name"))
        else:
            ns_text = data.get("non_swift_text")
            description = clean_text(text86, fields.get("extra_details"), ns_text)
            counterparty = None
        row["description"] = description
        row["counterparty"] = counterparty
        row["raw"] = {
            "statement": statement_ref,
            "mark": fields.get("status"),
            "type": fields.get("id"),
            "customer_reference": fields.get("customer_reference"),
            "bank_reference": fields.get("bank_reference"),
            "supplementary": fields.get("extra_details") or None,
            "details": text86,
            "transaction_code": data.get("transaction_code"),
            "counterparty_account": data.get("applicant_iban"),
            "counterparty_bank": data.get("applicant_bin"),
        }
        return row

    def check_balance(
        self, block: Block, data: dict[str, Any], rows: list[dict[str, Any]], label: str
    ) -> None:
        opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
        closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
        close_tag = block.first(*_CLOSING)
        open_tag = block.first(*_OPENING)
        if opening is None or closing is None or close_tag is None or open_tag is None:
            return
        ccy = opening.amount.currency
        if closing.amount.currency != ccy:
            self.checks.append(
                Problem(
                    f"{label}: opening balance in {ccy}, closing balance in "
                    f"{closing.amount.currency}; not checked",
                    line=close_tag.line,
                    field=f":{close_tag.tag}:",
                    severity="warning",
                )
            )
            return
        problem = balance_problem(
            label=label,
            currency=ccy,
            opening=_minor(opening.amount.amount, ccy, self.file, open_tag.line, open_tag.tag),
            movements=sum(r["amount_minor"] for r in rows),
            closing=_minor(closing.amount.amount, ccy, self.file, close_tag.line, close_tag.tag),
            line=close_tag.line,
            field=f":{close_tag.tag}:",
        )
        if problem:
            self.checks.append(problem)

    def check_sums(self, block: Block, rows: list[dict[str, Any]], label: str) -> None:
        """MT942 `:90D:`/`:90C:`: number and sum of the debit and credit lines."""
        for tag, sign, name in (("90D", -1, "debit"), ("90C", 1, "credit")):
            t = block.first(tag)
            if t is None:
                continue
            m = _SUMS.match(t.value.strip())
            if not m:
                raise UserError(
                    f"total cannot be read: {t.value.strip()!r}",
                    file=self.file,
                    line=t.line,
                    field=f":{tag}:",
                )
            ccy = m["ccy"]
            total = _minor(
                parse_decimal(m["amount"], decimal_comma=True), ccy, self.file, t.line, tag
            )
            lines = [r for r in rows if (r["amount_minor"] < 0) == (sign < 0)]
            count = len(lines)
            summed = abs(sum(r["amount_minor"] for r in lines))
            if count != int(m["count"]) or summed != total:
                self.checks.append(
                    Problem(
                        f"{label}: :{tag}: says {int(m['count'])} {name} line(s) totalling "
                        f"{format_minor(total, ccy)} {ccy}, the report has {count} totalling "
                        f"{format_minor(summed, ccy)} {ccy}",
                        line=t.line,
                        field=f":{tag}:",
                    )
                )


class Mt940Importer:
    """MT940 and MT942."""

    name = "mt940"
    label = "SWIFT MT940 / MT942"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head.decode("latin-1")
        if not re.search(r"(?m)^\s*:20:", text):
            return 0
        if re.search(r"(?m)^:(61|60[FM]|62[FM]|34F|13D|25):", text):
            return 90
        return 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        file = str(path)
        check_line_length(data, file)
        text, _encoding = decode(data, file=file)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        blocks = tokenise(text)
        if not blocks:
            raise UserError("no MT940/MT942 statement (:20: ... :62F:) in the file", file=file)
        reader = _Reader(file)
        for i, block in enumerate(blocks):
            if progress:
                progress(i, len(blocks), "Reading statements")
            reader.statement(block)
        return reader.result("mt942" if reader.interim else "mt940", len(reader.rows))


IMPORTER = Mt940Importer()
