"""Any other table (order exports, ledger exports): CSV or XLSX mapped by header names or a profile.

Columns are mapped automatically from common header names (order id / number, date / created,
amount / total / gross, debit + credit, currency, customer, email, description, status, ...).
A saved mapping profile overrides or completes the automatic mapping:

    {"columns": {"external_id": "Order No", "booked_on": "Date", "amount_minor": "Total"},
     "date_format": "%d.%m.%Y", "decimal_comma": true, "currency": "EUR", "kind": "order",
     "source_name": "Web shop", "source_kind": "ledger", "provider": "shop",
     "timezone": "Europe/Berlin", "sheet": "Orders", "encoding": "cp1252"}

`columns` maps record fields (see `base.RECORD_COLUMNS`, `ref_<kind>` reference columns, or the
pseudo-fields `amount` / `debit` / `credit` / `email` / `status`) to the file's headers. A table
that looks like an order export (an order column) gives kind "order" records, anything else
"other". When the date or amount cannot be found the import stops with the headers it saw, so the
user can save a profile.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from . import column_values, csvutil, table_importer
from .base import RECORD_COLUMNS, AccountInfo, ImportOptions, ParseResult, Progress
from .column_values import Issues
from .csvutil import STRING, Table

# Field -> header names tried in order (compared normalised).
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "order id",
        "order number",
        "order no",
        "order nr",
        "order",
        "order ref",
        "order reference",
        "reference",
        "ref",
        "transaction id",
        "document number",
        "document no",
        "invoice number",
        "invoice no",
        "invoice",
        "id",
        "number",
        "bestellnummer",
        "auftragsnummer",
        "belegnummer",
        "numero de pedido",
        "n de pedido",
        "numero de commande",
    ),
    "booked_on": (
        "date",
        "order date",
        "created",
        "created at",
        "created date",
        "creation date",
        "booking date",
        "posting date",
        "transaction date",
        "invoice date",
        "paid at",
        "processed at",
        "datum",
        "buchungsdatum",
        "bestelldatum",
        "fecha",
    ),
    "amount": (
        "amount",
        "total",
        "gross",
        "order total",
        "grand total",
        "total amount",
        "total price",
        "sum",
        "value",
        "betrag",
        "gesamtbetrag",
        "importe",
        "montant",
    ),
    "debit": ("debit", "debit amount", "soll", "withdrawal", "paid out", "money out"),
    "credit": ("credit", "credit amount", "haben", "deposit", "paid in", "money in"),
    "currency": ("currency", "currency code", "ccy", "cur", "wahrung", "divisa", "devise"),
    "counterparty": (
        "customer",
        "customer name",
        "billing name",
        "buyer",
        "client",
        "counterparty",
        "payee",
        "payer",
        "vendor",
        "supplier",
        "name",
        "account name",
        "kunde",
        "cliente",
    ),
    "email": ("email", "customer email", "e mail", "email address", "buyer email"),
    "description": (
        "description",
        "memo",
        "narrative",
        "text",
        "details",
        "note",
        "notes",
        "product",
        "products",
        "items",
        "item",
        "line item",
        "lineitem name",
        "verwendungszweck",
        "buchungstext",
        "concepto",
        "libelle",
    ),
    "status": ("status", "order status", "financial status", "payment status"),
    "fee_minor": ("fee", "fees", "commission", "processing fee"),
    "payout_ref": ("payout", "payout id", "settlement id", "batch", "batch id", "disbursement"),
    "value_on": ("value date", "valuta", "wertstellung"),
    "ref_payment": (
        "payment reference",
        "payment id",
        "payment ref",
        "transaction reference",
        "charge id",
        "psp reference",
        "payment intent",
    ),
}
_PSEUDO = {"amount", "debit", "credit", "email", "status"}
_NOT_MONEY = re.compile(r"cancel|void|failed|deleted|abandoned|declined", re.IGNORECASE)
_EXCLUDE_AMOUNT = ("tax", "shipping", "discount", "fee", "subtotal", "vat", "quantity", "qty")
_DATE_FORMATS = (
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%d %b %Y",
    "%b %d, %Y",
    "%d-%b-%Y",
)


def auto_mapping(headers: list[str]) -> dict[str, str]:
    """Field -> header found from common header names (exact names first, then patterns)."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(csvutil.norm(h), h)
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for fieldname, names in FIELD_NAMES.items():
        for name in names:
            hit = by_norm.get(name)
            if hit is not None and hit not in used:
                mapping[fieldname] = hit
                used.add(hit)
                break
    free = [h for h in headers if h not in used]
    if "booked_on" not in mapping:
        hit = next((h for h in free if "date" in csvutil.norm(h).split()), None)
        if hit:
            mapping["booked_on"] = hit
            used.add(hit)
    if "amount" not in mapping and not {"debit", "credit"} <= set(mapping):
        hit = next(
            (
                h
                for h in free
                if re.search(r"\b(amount|total)\b", csvutil.norm(h))
                and not any(x in csvutil.norm(h) for x in _EXCLUDE_AMOUNT)
                and h not in used
            ),
            None,
        )
        if hit:
            mapping["amount"] = hit
            used.add(hit)
    if "external_id" not in mapping:
        hit = next(
            (
                h
                for h in free
                if re.search(r"\b(order|invoice|reference|transaction)\b", csvutil.norm(h))
                and re.search(r"\b(id|number|no|nr|ref)$", csvutil.norm(h))
                and h not in used
            ),
            None,
        )
        if hit:
            mapping["external_id"] = hit
    return mapping


def _has_amount(mapping: dict[str, str]) -> bool:
    return bool({"amount", "amount_minor", "debit", "credit"} & set(mapping))


def _resolve(table: Table, profile: dict[str, Any] | None) -> dict[str, str]:
    mapping = auto_mapping(table.headers)
    if not profile:
        return mapping
    allowed = set(RECORD_COLUMNS) | _PSEUDO
    for fieldname, header in (profile.get("columns") or {}).items():
        if fieldname not in allowed and not fieldname.startswith("ref_"):
            raise UserError(
                f"the mapping profile names an unknown field {fieldname!r}; fields: "
                + ", ".join(sorted(allowed)),
                file=str(table.path),
            )
        hit = table.find(str(header))
        if hit is None:
            raise UserError(
                f"the mapping profile maps {fieldname} to column {header!r}, which the file "
                f"does not have; headers: {', '.join(table.headers)}",
                file=str(table.path),
                line=1,
            )
        key = "amount" if fieldname == "amount_minor" else fieldname
        for other in [k for k, v in mapping.items() if v == hit and k != key]:
            del mapping[other]  # a header the profile assigns is not also auto-mapped
        mapping[key] = hit
    return mapping


def _date_format(values: pd.Series, path: Path, header: str) -> str | None:
    """The format of a date column: ISO 8601 (None) or the first known format that fits."""
    sample = values.dropna().astype(str).head(500)
    if sample.empty:
        return None
    iso = pd.to_datetime(sample.astype(object), format="ISO8601", errors="coerce", utc=True)
    best: tuple[float, str | None] = (float(iso.notna().mean()), None)
    if best[0] == 1.0:
        return None
    day_first = column_values.guess_day_first(sample, default=True)
    candidates = list(_DATE_FORMATS)
    for sep in "/-":
        d, m = ("%d", "%m") if day_first else ("%m", "%d")
        for tail in ("", " %H:%M", " %H:%M:%S"):
            candidates.insert(0, f"{d}{sep}{m}{sep}%Y{tail}")
            candidates.append(f"{d}{sep}{m}{sep}%y{tail}")
    texts = sample.astype(object)
    for fmt in candidates:
        ok = float(pd.to_datetime(texts, format=fmt, errors="coerce").notna().mean())
        if ok > best[0]:
            best = (ok, fmt)
        if ok == 1.0:
            break
    if best[0] == 0.0:
        raise UserError(
            f"dates like {sample.iloc[0]!r} are in no known format; save a mapping profile "
            "with a date_format",
            file=str(path),
            field=header,
        )
    return best[1]


def _kind_default(mapping: dict[str, str]) -> str:
    cols = [mapping.get(k) for k in ("external_id", "booked_on", "amount")]
    return "order" if any(c and "order" in csvutil.norm(c) for c in cols) else "other"


def parse(
    path: Path,
    data: bytes,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ParseResult:
    """Parse a CSV/XLSX table with automatic or profile mapping."""
    profile = options.profile or {}
    table_importer.report(progress, 0, 3, "Reading table")
    if profile.get("sheet") is not None and csvutil.is_xlsx(data[:4096]):
        table = csvutil.read_xlsx(path, data, profile["sheet"])
    else:
        table = csvutil.read_table(path, data, profile.get("encoding"))
    mapping = _resolve(table, profile)
    headers = ", ".join(table.headers)
    if not _has_amount(mapping):
        raise UserError(
            f"no amount column; headers: {headers}; save a mapping profile naming the amount "
            "column",
            file=str(path),
            line=1,
        )
    if "booked_on" not in mapping:
        raise UserError(
            f"no date column; headers: {headers}; save a mapping profile naming the date column",
            file=str(path),
            line=1,
        )
    default_cur = profile.get("currency")
    if "currency" not in mapping and not default_cur:
        raise UserError(
            f"no currency column; headers: {headers}; save a mapping profile with the currency",
            file=str(path),
            line=1,
        )
    kind = str(profile.get("kind") or _kind_default(mapping))
    n = len(table)
    issues = Issues(table)
    col = table.col

    status_h = mapping.get("status")
    if status_h:
        status = col(status_h).fillna("")
        skipped = status.str.contains(_NOT_MONEY.pattern, regex=True, flags=re.IGNORECASE)
        skip = skipped.to_numpy(dtype=bool)
        issues.skip(skip, status_h, lambda i: f"skipped: status {status.iloc[i]}")

    table_importer.report(progress, 1, 3, "Converting amounts")
    cur_h = mapping.get("currency")
    cur = column_values.currencies(
        col(cur_h) if cur_h else pd.Series(pd.array([None] * n, dtype=STRING)),
        issues,
        cur_h or "currency",
        default=str(default_cur).upper() if default_cur else None,
    )
    exps = column_values.exponents(cur)
    money_headers = [mapping[k] for k in ("amount", "debit", "credit", "fee_minor") if k in mapping]
    declared = profile.get("decimal_comma")
    comma, mark_note = column_values.decimal_mark(
        [(h, col(h)) for h in money_headers],
        issues,
        declared=None if declared is None else bool(declared),
    )
    if mark_note:
        issues.notes.append(mark_note)
    if "amount" in mapping:
        amount = column_values.amounts(
            col(mapping["amount"]), exps, issues, mapping["amount"], decimal_comma=bool(comma)
        )
    else:
        parts = []
        for key in ("debit", "credit"):
            h = mapping.get(key)
            parts.append(
                column_values.amounts(
                    col(h), exps, issues, h, decimal_comma=bool(comma), required=False
                )
                .abs()
                .fillna(0)
                if h
                else 0
            )
        amount = pd.Series(parts[1] - parts[0])
        present = np.zeros(n, dtype=bool)
        for key in ("debit", "credit"):
            if key in mapping:
                present |= col(mapping[key]).notna().to_numpy(dtype=bool)
        issues.add(~present, mapping.get("credit") or mapping.get("debit"), "amount is missing")
    fee = None
    if "fee_minor" in mapping:
        fee = column_values.amounts(
            col(mapping["fee_minor"]),
            exps,
            issues,
            mapping["fee_minor"],
            decimal_comma=bool(comma),
            required=False,
        ).abs()

    table_importer.report(progress, 2, 3, "Converting dates")
    date_h = mapping["booked_on"]
    fmt = profile.get("date_format") or _date_format(col(date_h), path, date_h)
    zone = str(profile.get("timezone") or "UTC")
    booked, occurred = column_values.local_datetimes(
        col(date_h),
        None,
        None,
        issues,
        date_field=date_h,
        zone_field=None,
        date_format=fmt,
        default_zone=zone,
    )
    has_time = bool(col(date_h).str.contains(r"\d:\d", regex=True, na=False).any())
    value_on = None
    if "value_on" in mapping:
        value_on, _ = column_values.local_datetimes(
            col(mapping["value_on"]),
            None,
            None,
            issues,
            date_field=mapping["value_on"],
            zone_field=None,
            date_format=fmt,
            default_zone=zone,
        )
        value_on = value_on.where(col(mapping["value_on"]).notna())

    def text(key: str) -> pd.Series | None:
        h = mapping.get(key)
        return col(h) if h else None

    external = text("external_id")
    counterparty = text("counterparty")
    if counterparty is None:
        counterparty = text("email")
    elif "email" in mapping:
        counterparty = counterparty.fillna(col(mapping["email"]))
    records: dict[str, Any] = {
        "line_no": table.line_no,
        "account": "table",
        "external_id": external,
        "bank_ref": text("bank_ref"),
        "booked_on": booked,
        "value_on": value_on,
        "occurred_at": occurred if has_time else None,
        "amount_minor": amount.fillna(0).astype("int64"),
        "currency": cur,
        "fee_minor": fee,
        "net_minor": (amount - fee.fillna(0)) if fee is not None else None,
        "kind": kind,
        "counterparty": counterparty,
        "description": text("description"),
        "payout_ref": text("payout_ref"),
        "raw": table.raw(),
    }
    for key, header in mapping.items():
        if key.startswith("ref_"):
            records[key] = col(header)
    if kind == "order" and external is not None:
        records["ref_order"] = external
    frame = table_importer.finish(records, issues)
    order = kind == "order"
    account = AccountInfo(
        key="table",
        kind=str(profile.get("source_kind") or ("ledger" if order else "other")),
        provider=profile.get("provider") or ("shop" if order else None),
        name=str(profile.get("source_name") or ("Shop orders" if order else "Imported table")),
        currency=str(default_cur).upper() if default_cur else None,
    )
    table_importer.report(progress, 3, 3, "Read table")
    return table_importer.result("tabular", frame, {"table": account}, issues, n)


class TabularImporter:
    """CSV/XLSX with recognisable columns or a saved mapping profile."""

    name = "tabular"
    label = "Table (CSV/XLSX) with automatic or saved column mapping"

    def sniff(self, head: bytes, filename: str) -> int:
        if csvutil.is_xlsx(head):
            return 10
        names = csvutil.header_names(head)
        if len(names) < 2:
            return 0
        mapping = auto_mapping(names)
        return 10 if "booked_on" in mapping and _has_amount(mapping) else 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        return parse(path, data, options, progress)


IMPORTER = TabularImporter()
