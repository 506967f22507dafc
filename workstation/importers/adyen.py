"""Adyen settlement details report (one CSV per batch), read by header name in any column order.

Each row is one ledger line of a settlement batch: payments (`Settled`), modifications
(`Refunded`, `Chargeback`, ...), the daily `Fee`, `Balancetransfer` carry-overs and the
`MerchantPayout` to the bank. Amounts come split into unsigned Debit/Credit columns; the gross is
in the gross currency (GC), net and fees (Commission, Markup, Scheme Fees, Interchange) in the net
currency (NC). Each row must satisfy gross - fees = net (when GC = NC), and each batch must add up:
the net of its lines equals its payout (or what it carries to the next batch); a batch that does
not is reported in `checks`.

Ids: external id = PSP reference for payments and `<psp>:<Type>` for modifications of that
payment (a refund row carries the original payment's PSP reference); rows without one are named
after their batch. payout_ref = `batch-<n>`, the same key the payout line and the bank credit use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..money import format_minor
from . import column_values, csvutil, table_importer
from .base import AccountInfo, ParseResult, Problem, Progress
from .column_values import Issues
from .csvutil import STRING
from .table_importer import ReportImporter

PAYMENT_TYPES = frozenset(
    {
        "Settled",
        "SettledBulk",
        "SettledExternally",
        "SettledExternallyWithInfo",
        "SettledInstallment",
        "SettledInInstallments",
    }
)
KIND_BY_TYPE = {
    **dict.fromkeys(PAYMENT_TYPES, "charge"),
    **dict.fromkeys(
        [
            "Refunded",
            "RefundedBulk",
            "RefundedExternally",
            "RefundedExternallyWithInfo",
            "RefundedInstallment",
            "RefundedInInstallments",
        ],
        "refund",
    ),
    "RefundedReversed": "adjustment",
    **dict.fromkeys(
        [
            "Chargeback",
            "SecondChargeback",
            "ChargebackExternally",
            "ChargebackExternallyWithInfo",
        ],
        "dispute",
    ),
    **dict.fromkeys(
        ["ChargebackReversed", "ChargebackReversedExternallyWithInfo"], "dispute_reversal"
    ),
    **dict.fromkeys(["Fee", "MiscCosts", "PaymentCost", "InvoiceDeduction"], "fee"),
    "MerchantPayout": "payout",
    "Balancetransfer": "transfer",
    "DepositCorrection": "adjustment",
}
_FEE_COLUMNS = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
_ID_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{5,}$")


def _kind(type_name: str) -> str:
    return KIND_BY_TYPE.get(type_name.strip(), "other")


def _zero(n: int) -> pd.Series:
    return pd.Series(pd.array(np.zeros(n, dtype=np.int64), dtype="Int64"))


def _signed(
    table: csvutil.Table,
    debit_h: str | None,
    credit_h: str | None,
    exps: np.ndarray,
    issues: Issues,
) -> tuple[pd.Series, np.ndarray]:
    """credit - debit of two unsigned columns; also whether either had a value."""
    debit = column_values.amounts(table.col(debit_h), exps, issues, debit_h or "", required=False)
    credit = column_values.amounts(
        table.col(credit_h), exps, issues, credit_h or "", required=False
    )
    present = (debit.notna() | credit.notna()).to_numpy(dtype=bool)
    return credit.fillna(0) - debit.fillna(0), present


def _batch_checks(frame: pd.DataFrame) -> list[Problem]:
    """Each batch's lines must net to its payout (or to the balance carried to the next batch)."""
    checks: list[Problem] = []
    if frame.empty:
        return checks
    for (batch, cur), part in frame.groupby(["payout_ref", "currency"], dropna=True):
        payout = part["kind"] == "payout"
        carried = (part["kind"] == "transfer") & part["description"].fillna("").str.contains(
            "to batch", case=False
        )
        if not payout.any() and not carried.any():
            continue  # an open batch: nothing to check against yet
        closing = part.loc[payout | carried, "net_minor"].astype("int64").sum()
        lines = part.loc[~(payout | carried), "net_minor"].astype("int64").sum()
        if lines + closing != 0:
            where = "payout" if payout.any() else "carry-over to the next batch"
            checks.append(
                Problem(
                    f"{batch} {cur}: the lines net {format_minor(int(lines), str(cur))} but the "
                    f"{where} is {format_minor(int(-closing), str(cur))}",
                    line=int(part.loc[payout | carried, "line_no"].iloc[0]),
                    field="Net Debit (NC)",
                )
            )
    return checks


def parse(path: Path, data: bytes, progress: Progress | None = None) -> ParseResult:
    """Parse one settlement details report."""
    table_importer.report(progress, 0, 3, "Reading Adyen report")
    table = csvutil.read_table(path, data)
    find = table.find
    type_h = table.require("Type", "Type")
    net_cur_h = table.require("Net Currency", "Net Currency")
    batch_h = table.require("Batch Number", "Batch Number")
    created_h = table.require("Creation Date", "Creation Date")
    net_debit_h = find("Net Debit (NC)", "Net Debit")
    net_credit_h = find("Net Credit (NC)", "Net Credit")
    if net_debit_h is None and net_credit_h is None:
        table.require("Net Credit (NC)", "Net Credit (NC)")
    psp_h = find("Psp Reference")
    merchant_h = find("Merchant Account")
    n = len(table)
    issues = Issues(table)

    table_importer.report(progress, 1, 3, "Converting amounts")
    cur = column_values.currencies(table.col(net_cur_h), issues, net_cur_h)
    exps = column_values.exponents(cur)
    net, has_net = _signed(table, net_debit_h, net_credit_h, exps, issues)
    issues.add(~has_net, net_credit_h or net_debit_h, "no net amount (Net Debit / Net Credit)")
    fees = _zero(n)
    any_fee = np.zeros(n, dtype=bool)
    for name in _FEE_COLUMNS:
        h = find(name, name.replace(" (NC)", ""))
        if h:
            part = column_values.amounts(table.col(h), exps, issues, h, required=False)
            any_fee |= part.notna().to_numpy(dtype=bool)
            fees = fees + part.fillna(0)
    gross_cur_h = find("Gross Currency")
    gross_cur = table.col(gross_cur_h)
    quiet = Issues(table)
    gcur = column_values.currencies(gross_cur, quiet, gross_cur_h or "")
    issues.add(
        (gross_cur.notna() & gcur.isna()).to_numpy(dtype=bool),
        gross_cur_h,
        lambda i: f"unknown currency {table.col(gross_cur_h).iloc[i]!r}",
    )
    gross, has_gross = _signed(
        table,
        find("Gross Debit (GC)", "Gross Debit"),
        find("Gross Credit (GC)", "Gross Credit"),
        column_values.exponents(gcur),
        issues,
    )
    same_cur = has_gross & (gcur == cur).fillna(False).to_numpy(dtype=bool)
    mismatch = same_cur & ((gross - fees) != net).fillna(False).to_numpy(dtype=bool)
    if mismatch.any():
        issues.add(
            mismatch,
            net_credit_h or net_debit_h,
            lambda i: (
                f"gross {gross.iloc[i]} - fees {fees.iloc[i]} is not net {net.iloc[i]} "
                "(minor units)"
            ),
        )
    amount = (net + fees).where(~pd.Series(same_cur), gross)
    fx = has_gross & ~same_cur & gcur.notna().to_numpy(dtype=bool)
    orig_amount = gross.where(pd.Series(fx))
    orig_cur = gcur.where(pd.Series(fx))

    table_importer.report(progress, 2, 3, "Converting dates")
    booked, occurred = column_values.local_datetimes(
        table.col(created_h),
        None,
        table.col(find("TimeZone", "Time Zone")),
        issues,
        date_field=created_h,
        zone_field=find("TimeZone", "Time Zone"),
        date_format="%Y-%m-%d %H:%M:%S",
    )
    value_on: pd.Series | None = None
    booking_h = find("Booking Date")
    if booking_h:
        value_on, _ = column_values.local_datetimes(
            table.col(booking_h),
            None,
            table.col(find("Booking Date TimeZone")),
            Issues(table),
            date_field=booking_h,
            zone_field=None,
            date_format="%Y-%m-%d %H:%M:%S",
        )
        value_on = value_on.where(table.col(booking_h).notna())

    types = table.col(type_h).fillna("")
    kind = column_values.map_values(types, _kind, pa.string()).fillna("other")
    batch = table.col(batch_h).str.strip()
    issues.add(batch.isna().to_numpy(dtype=bool), batch_h, "batch number is missing")
    payout_ref = "batch-" + batch
    psp = table.col(psp_h)
    mod_ref = table.col(find("Modification Reference"))
    mod_merchant = table.col(find("Modification Merchant Reference"))
    is_payment = types.isin(PAYMENT_TYPES).to_numpy(dtype=bool)
    if psp_h:
        column_values.repeated_ids(psp, issues, psp_h, "PSP reference", among=is_payment)
    label = mod_merchant.fillna(mod_ref).fillna("").str.replace(r"\s+", " ", regex=True)
    external = psp.where(pd.Series(is_payment), psp + ":" + types)
    external = external.fillna(
        payout_ref.where(kind == "payout", payout_ref + ":" + types + ":" + label)
    )
    pm = table.col(find("Payment Method"))
    description = (types + " " + pm.fillna("")).str.strip()
    description = description.where(psp.notna(), label.where(label != "", types))
    description = description.where(kind != "payout", mod_ref.fillna(label))
    merchant = table.col(merchant_h).fillna("Adyen")
    account = merchant + "-" + cur

    def id_like(s: pd.Series) -> pd.Series:
        ok = s.str.match(_ID_LIKE.pattern, na=False) & s.str.contains(r"[0-9]", na=False)
        return s.where(ok)

    records: dict[str, Any] = {
        "line_no": table.line_no,
        "account": account,
        "external_id": external.str.slice(0, 128),
        "bank_ref": None,
        "booked_on": booked,
        "value_on": value_on,
        "occurred_at": occurred,
        "amount_minor": amount.fillna(0).astype("int64"),
        "currency": cur,
        "fee_minor": fees,
        "net_minor": net,
        "orig_amount_minor": orig_amount,
        "orig_currency": orig_cur,
        "kind": kind,
        "counterparty": None,
        "description": description.astype(STRING),
        "payout_ref": payout_ref,
        "raw": table.raw(),
        "ref_order": table.col(find("Merchant Reference")),
        "ref_modification": id_like(mod_ref),
        "ref_merchant_modification": id_like(mod_merchant.where(mod_merchant != "<auto>")),
        "ref_charge": psp.where(pd.Series(~is_payment)),
    }
    checked = pd.DataFrame(
        {
            "payout_ref": payout_ref,
            "currency": cur,
            "kind": kind,
            "description": description,
            "net_minor": net.where(pd.Series(has_net)),
            "line_no": table.line_no,
        }
    ).dropna(subset=["payout_ref", "currency", "net_minor"])
    checks = _batch_checks(checked)
    frame = table_importer.finish(records, issues)
    accounts: dict[str, AccountInfo] = {}
    for key in pd.unique(frame["account"].dropna()):
        m, c = str(key).rsplit("-", 1)
        accounts[str(key)] = AccountInfo(
            key=str(key), kind="psp", provider="adyen", name=f"Adyen {m} {c}", currency=c
        )
    table_importer.report(progress, 3, 3, "Read Adyen report")
    return table_importer.result(
        "adyen",
        frame,
        accounts,
        issues,
        n,
        checks=checks,
        # 16-digit PSP references can pass Luhn but are never card numbers
        pan_exempt_columns=("external_id", "ref_charge", "ref_modification"),
    )


class AdyenImporter(ReportImporter):
    """Adyen settlement details report."""

    name = "adyen"
    label = "Adyen settlement details report"

    def score(self, names: set[str]) -> int:
        if {"psp reference", "merchant reference", "type", "batch number", "net currency"} <= names:
            return 95
        return 0


IMPORTER = AdyenImporter(parse)
