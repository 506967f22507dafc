"""Stripe: balance history export, itemized balance / payout reconciliation reports, API objects.

CSV reports are read by header name, so the Dashboard's legacy "Balance history" export
(`id,Type,Source,Amount,Fee,...,Created (UTC)`) and the Reporting API's itemized reports
(`balance_transaction_id, created_utc, currency, gross, fee, net, reporting_category,
automatic_payout_id, ...`, any subset and order) share one path. Reports are in major units and
UTC; the API's JSON objects (balance transaction, payout, or a list of them) are in minor units.
The whole CSV path is vectorised: a million-row itemized payout reconciliation report becomes a
records frame in about a second (pyarrow read, decimal cast, no per-row Python).

Every line is one record: external id = balance transaction id, fee a positive cost, net =
gross - fee (checked per row), kind from `reporting_category` (or the legacy `Type`), payout_ref =
`automatic_payout_id` (for payout lines, the payout itself). Dispute objects belong to the
disputes importer and are not claimed here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import UserError
from ..money import check_bound
from . import column_values, csvutil, table_importer
from .base import ImportOptions, ParseResult, Problem, Progress, frame_from_rows
from .column_values import Issues
from .csvutil import STRING, Table
from .table_importer import ReportImporter, currency_account

KIND_BY_CATEGORY = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "partial_capture_reversal": "refund",
    "refund_failure": "refund",
    "payment_failure_refund": "refund",
    "dispute": "dispute",
    "dispute_reversal": "dispute_reversal",
    "fee": "fee",
    "stripe_fee": "fee",
    "application_fee": "fee",
    "application_fee_refund": "fee",
    "network_cost": "fee",
    "tax": "fee",
    "tax_fee": "fee",
    "payout": "payout",
    "payout_reversal": "payout",
    "payout_cancel": "payout",
    "payout_failure": "payout",
    "payout_minimum_balance_hold": "reserve",
    "payout_minimum_balance_release": "reserve",
    "transfer": "transfer",
    "transfer_reversal": "transfer",
    "transfer_cancel": "transfer",
    "transfer_failure": "transfer",
    "topup": "transfer",
    "topup_reversal": "transfer",
    "risk_reserved_funds": "reserve",
    "risk_released_funds": "reserve",
    "connect_reserved_funds": "reserve",
    "connect_released_funds": "reserve",
    "reserve_transaction": "reserve",
    "reserved_funds": "reserve",
    "adjustment": "adjustment",
    "other_adjustment": "adjustment",
    "platform_earning": "adjustment",
    "platform_earning_refund": "adjustment",
    "contribution": "adjustment",
    "climate_order_purchase": "fee",
    "climate_order_refund": "fee",
}
_OBJECT_RE = re.compile(rb'"object"\s*:\s*"([a-z_]+)"')


def _kinds(category: pd.Series, description: pd.Series) -> pd.Series:
    """RecordKind per line; legacy `adjustment` lines that are chargebacks become disputes."""
    kind = column_values.map_values(
        category, lambda v: KIND_BY_CATEGORY.get(v.strip().lower(), "other"), pa.string()
    ).fillna("other")
    adj = (kind == "adjustment").to_numpy(dtype=bool)
    if adj.any():
        desc = description.fillna("").str.lower()
        kind = kind.mask(adj & desc.str.startswith("chargeback withdrawal"), "dispute")
        kind = kind.mask(
            adj & desc.str.contains(r"^chargeback (?:reversal|won)", regex=True), "dispute_reversal"
        )
    return kind


def _metadata_order(table: Table) -> str | None:
    """`payment_metadata[order_id]`, `order_id (metadata)` and similar metadata columns."""
    best: str | None = None
    for h in table.headers:
        n = csvutil.norm(h)
        if "metadata" in n and "order" in n:
            if "id" in n.split() or "number" in n or "no" in n.split():
                return h
            best = best or h
    return best


def parse_report(path: Path, data: bytes, progress: Progress | None = None) -> ParseResult:
    """A Stripe CSV report (any of the layouts in the module docstring)."""
    table_importer.report(progress, 0, 4, "Reading Stripe report")
    table = csvutil.read_table(path, data)
    find = table.find
    id_h = table.require("balance transaction id", "balance_transaction_id", "id")
    created_h = table.require("created date", "created_utc", "created (UTC)", "created")
    cur_h = table.require("currency", "currency")
    gross_h = table.require("gross amount", "gross", "amount")
    fee_h = find("fee")
    net_h = find("net")
    cat_h = find("reporting_category") or find("type")
    desc_h = find("description")
    payout_h = find("automatic_payout_id", "transfer", "payout_id")
    avail_h = find("available_on_utc", "available on (UTC)", "available_on")
    src_h = find("source_id", "source")
    charge_h = find("charge_id")
    pi_h = find("payment_intent_id")
    invoice_h = find("invoice_id")
    order_h = _metadata_order(table)
    cname_h = find("customer_name", "customer_description", "customer_email")
    cemail_h = find("customer_email")
    cf_amount_h = find("customer_facing_amount")
    cf_cur_h = find("customer_facing_currency")

    issues = Issues(table)
    table_importer.report(progress, 1, 4, "Converting amounts")
    cur = column_values.currencies(table.values(cur_h), issues, cur_h)
    exps = column_values.exponents(cur)
    gross = column_values.amounts(table.values(gross_h), exps, issues, gross_h)
    fee = (
        column_values.amounts(table.values(fee_h), exps, issues, fee_h, required=False).fillna(0)
        if fee_h
        else pd.Series(pd.array(np.zeros(len(table), dtype=np.int64), dtype="Int64"))
    )
    expected_net = gross - fee
    if net_h:
        net = column_values.amounts(table.values(net_h), exps, issues, net_h)
        wrong = (net != expected_net).fillna(False).to_numpy(dtype=bool)
        if wrong.any():
            g_t, f_t, n_t = (
                table.col(h).to_numpy(dtype=object, na_value="0") for h in (gross_h, fee_h, net_h)
            )
            issues.add(
                wrong,
                net_h,
                lambda i: f"net {n_t[i]} is not gross {g_t[i]} - fee {f_t[i] if fee_h else 0}",
            )
    else:
        net = expected_net
    ids = table.col(id_h)
    issues.add(ids.isna().to_numpy(dtype=bool), id_h, "balance transaction id is missing")
    column_values.repeated_ids(ids, issues, id_h, "balance transaction id")

    table_importer.report(progress, 2, 4, "Converting dates")
    created = column_values.iso_timestamps(table.values(created_h), issues, created_h)
    booked = column_values.utc_dates(created)
    value_on = None
    if avail_h:
        available = column_values.iso_timestamps(
            table.values(avail_h), issues, avail_h, required=False
        )
        value_on = column_values.utc_dates(available)

    table_importer.report(progress, 3, 4, "Collecting references")
    description = table.col(desc_h)
    kind = (
        _kinds(table.values(cat_h), description)
        if cat_h
        else pd.Series(pd.array(["other"] * len(table), dtype=STRING))
    )
    source = table.col(src_h)
    src_is_charge = source.str.match(r"(?:ch|py)_", na=False)
    ref_charge = table.col(charge_h).fillna(source.where(src_is_charge))
    ref_source = source.where(~src_is_charge)
    payout_ref = table.col(payout_h)
    is_payout_src = (kind == "payout").fillna(False) & source.str.startswith("po_").fillna(False)
    payout_ref = payout_ref.mask(is_payout_src & payout_ref.isna(), source)
    orig_amount: pd.Series | None = None
    orig_cur: pd.Series | None = None
    if cf_amount_h and cf_cur_h:
        quiet = Issues(table)  # a bad customer-facing amount does not make the line unusable
        ocur = table.col(cf_cur_h).str.upper()
        ocur = ocur.where(ocur.isin(column_values.KNOWN_CURRENCIES).fillna(False))
        oamt = column_values.amounts(
            table.col(cf_amount_h),
            column_values.exponents(ocur),
            quiet,
            cf_amount_h,
            required=False,
        )
        differs = (ocur != cur).fillna(False) & oamt.notna()
        orig_amount = oamt.where(differs)
        orig_cur = ocur.where(differs)

    records: dict[str, Any] = {
        "line_no": table.line_no,
        "account": "stripe-" + cur,
        "external_id": ids,
        "bank_ref": None,
        "booked_on": booked,
        "value_on": value_on,
        "occurred_at": created,
        "amount_minor": gross.fillna(0).astype("int64"),
        "currency": cur,
        "fee_minor": fee,
        "net_minor": net,
        "orig_amount_minor": orig_amount,
        "orig_currency": orig_cur,
        "kind": kind,
        "counterparty": column_values.first_of(table.col(cname_h), table.col(cemail_h)),
        "description": description,
        "payout_ref": payout_ref,
        "raw": table.raw(),
        "ref_charge": ref_charge,
        "ref_payment_intent": table.col(pi_h),
        "ref_order": table.col(order_h),
        "ref_source": ref_source,
        "ref_invoice": table.col(invoice_h),
    }
    frame = table_importer.finish(records, issues)
    accounts = {
        f"stripe-{c}": currency_account("stripe", "Stripe", c)
        for c in pd.unique(frame["currency"].dropna())
    }
    table_importer.report(progress, 4, 4, "Read Stripe report")
    return table_importer.result(
        "stripe",
        frame,
        accounts,
        issues,
        len(table),
        tokenise_external_id=False,  # txn_ ids are never quoted by banks or shops
    )


# --------------------------------------------------------------------------- API JSON objects


def _objects(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and doc.get("object") == "list" and isinstance(doc.get("data"), list):
        return list(doc["data"])
    return [doc]


def _line_of(text: str, obj_id: str | None, found: dict[str, int] | None = None) -> int:
    """Line of an object's id in the text (its next occurrence, when `found` remembers them)."""
    if not obj_id:
        return 1
    start = found.get(obj_id, -1) + 1 if found is not None else 0
    pos = text.find(f'"{obj_id}"', start)
    if found is not None and pos >= 0:
        found[obj_id] = pos
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1


def _stamp(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    return pd.Timestamp(int(value), unit="s", tz="UTC")


def _minor(value: Any, key: str) -> int:
    """An API amount (integer minor units), bounded; `fee` may be absent."""
    if value is None and key == "fee":
        return 0
    try:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} is not an integer number of minor units: {value!r}")
        check_bound(value, str(value))
    except ValueError as exc:
        exc.field = key  # type: ignore[attr-defined]
        raise
    return value


def _api_record(obj: dict[str, Any], line: int) -> dict[str, Any]:
    cur = str(obj.get("currency") or "").upper()
    if cur not in column_values.KNOWN_CURRENCIES:
        raise ValueError(f"unknown currency {obj.get('currency')!r}")
    created = _stamp(obj.get("created"))
    if created is None:
        raise ValueError("created is missing")
    if obj.get("object") == "payout":
        amount = -_minor(obj.get("amount"), "amount")
        txn = obj.get("balance_transaction")
        trace = obj.get("trace_id")
        arrival = _stamp(obj.get("arrival_date"))
        return {
            "line_no": line,
            "account": f"stripe-{cur}",
            "external_id": txn if isinstance(txn, str) else obj["id"],
            "booked_on": created.date(),
            "value_on": arrival.date() if arrival is not None else None,
            "occurred_at": created.to_pydatetime(),
            "amount_minor": amount,
            "currency": cur,
            "fee_minor": 0,
            "net_minor": amount,
            "kind": "payout",
            "description": obj.get("description") or obj.get("statement_descriptor"),
            "payout_ref": obj["id"],
            "raw": obj,
            "ref_trace": trace.get("value") if isinstance(trace, dict) else None,
        }
    amount, fee, net = (_minor(obj.get(k), k) for k in ("amount", "fee", "net"))
    if net != amount - fee:
        raise ValueError(f"net {net} is not amount {amount} - fee {fee} (minor units)")
    source = obj.get("source") if isinstance(obj.get("source"), str) else None
    category = obj.get("reporting_category") or obj.get("type") or "other"
    kind = KIND_BY_CATEGORY.get(str(category), "other")
    available = _stamp(obj.get("available_on"))
    return {
        "line_no": line,
        "account": f"stripe-{cur}",
        "external_id": obj["id"],
        "booked_on": created.date(),
        "value_on": available.date() if available is not None else None,
        "occurred_at": created.to_pydatetime(),
        "amount_minor": amount,
        "currency": cur,
        "fee_minor": fee,
        "net_minor": net,
        "kind": kind,
        "description": obj.get("description"),
        "payout_ref": source if kind == "payout" and source and source.startswith("po_") else None,
        "raw": obj,
        "ref_charge": source if source and source.startswith(("ch_", "py_")) else None,
        "ref_source": source if source and not source.startswith(("ch_", "py_")) else None,
    }


def parse_json(path: Path, data: bytes) -> ParseResult:
    """Stripe API balance transaction / payout objects (one, a list, or a `list` object)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"byte 0x{data[exc.start]:02X} is not UTF-8 (Stripe API JSON is UTF-8)",
            file=str(path),
            line=data.count(b"\n", 0, exc.start) + 1,
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"not valid JSON ({exc.msg}); the file may be cut off", file=str(path), line=exc.lineno
        ) from exc
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    found: dict[str, int] = {}
    for obj in _objects(doc):
        if not isinstance(obj, dict):
            raise UserError("expected Stripe API objects", file=str(path))
        kind = obj.get("object")
        line = _line_of(text, obj.get("id"), found)
        if kind not in ("balance_transaction", "payout"):
            what = (
                "dispute objects are imported by the disputes importer"
                if kind == "dispute"
                else f"a Stripe {kind or 'unknown'} object is not a ledger line"
            )
            problems.append(Problem(f"skipped: {what}", line=line, severity="warning"))
            continue
        try:
            row = _api_record(obj, line)
            if row["external_id"] in seen:
                raise ValueError(
                    f"balance transaction {row['external_id']} occurs again (first on line "
                    f"{seen[row['external_id']]}): the same transaction twice in one file"
                )
            seen[row["external_id"]] = line
            rows.append(row)
        except (KeyError, TypeError, ValueError) as exc:
            field = exc.args[0] if isinstance(exc, KeyError) else getattr(exc, "field", None)
            message = "value is missing" if isinstance(exc, KeyError) else str(exc)
            problems.append(Problem(message, line, field))
    if not rows and not problems:
        raise UserError("no Stripe balance transactions or payouts in the file", file=str(path))
    curs = sorted({r["currency"] for r in rows})
    return ParseResult(
        format="stripe",
        accounts={f"stripe-{c}": currency_account("stripe", "Stripe", c) for c in curs},
        records=frame_from_rows(rows),
        problems=problems,
        rows_total=len(rows) + sum(1 for p in problems if p.severity == "error"),
        tokenise_external_id=False,
    )


def _sniff_json(head: bytes) -> int:
    try:
        objs = _objects(json.loads(head.decode("utf-8-sig")))
        kinds = {o.get("object") for o in objs if isinstance(o, dict)}
    except (ValueError, UnicodeDecodeError):
        kinds = {m.decode() for m in _OBJECT_RE.findall(head)}
        if b'"object": "dispute"' in head or b'"object":"dispute"' in head:
            return 0
        return 60 if kinds & {"balance_transaction", "payout"} else 0
    return 95 if kinds & {"balance_transaction", "payout"} else 0


class StripeImporter(ReportImporter):
    """Stripe CSV reports and API JSON."""

    name = "stripe"
    label = "Stripe report (balance history, itemized reconciliation) or API JSON"

    def score(self, names: set[str]) -> int:
        if {"balance transaction id", "currency", "gross", "net"} <= names:
            return 95
        if {"id", "type", "amount", "fee", "net", "currency"} <= names and (
            "created utc" in names or "created" in names
        ):
            return 90
        return 0

    def sniff(self, head: bytes, filename: str) -> int:
        if head.lstrip()[:1] in (b"{", b"["):
            return _sniff_json(head)
        return super().sniff(head, filename)

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        if data.lstrip()[:1] in (b"{", b"["):
            return parse_json(path, data)
        return super().parse(path, data, options, progress)


IMPORTER = StripeImporter(parse_report)
