"""Braintree transaction search export (CSV), read by header name.

Only transactions whose status means money moved (settled, settling, settlement pending or
confirmed) become records; authorised, voided, declined and failed ones are skipped with a
warning each. A `sale` is money in, a `credit` (refund) money out, in the settlement currency;
the service fee is a positive cost and net = amount - fee. Braintree pays out per disbursement
date and merchant account, so payout_ref is `disb-<disbursement date>-<merchant account>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import column_values, csvutil, table_importer
from .base import AccountInfo, ParseResult, Progress
from .column_values import Issues
from .csvutil import STRING
from .table_importer import ReportImporter

MONEY_STATUSES = frozenset({"settled", "settling", "settlement_pending", "settlement_confirmed"})


def parse(path: Path, data: bytes, progress: Progress | None = None) -> ParseResult:
    """Parse a transaction search export."""
    table_importer.report(progress, 0, 2, "Reading Braintree export")
    table = csvutil.read_table(path, data)
    find = table.find
    id_h = table.require("Transaction ID", "Transaction ID", "id")
    type_h = table.require("Transaction Type", "Transaction Type", "Type")
    status_h = table.require("Transaction Status", "Transaction Status", "Status")
    amount_h = table.require(
        "Settlement Amount", "Settlement Amount", "Amount Submitted For Settlement", "Amount"
    )
    cur_h = table.require(
        "Settlement Currency", "Settlement Currency ISO Code", "Currency ISO Code", "Currency"
    )
    created_h = find("Created Datetime", "Created At", "Created Date")
    settled_h = find("Settlement Date")
    if created_h is None and settled_h is None:
        table.require("Settlement Date", "Settlement Date", "Created Datetime")
    n = len(table)
    issues = Issues(table)

    status = table.col(status_h).fillna("").str.strip().str.lower().str.replace(" ", "_")
    skipped = ~status.isin(MONEY_STATUSES).to_numpy(dtype=bool)
    raw_status = table.col(status_h)
    issues.skip(
        skipped,
        status_h,
        lambda i: f"skipped: status {raw_status.iloc[i] or '(none)'} is not settled money",
    )

    cur = column_values.currencies(table.col(cur_h), issues, cur_h)
    exps = column_values.exponents(cur)
    amount = column_values.amounts(table.col(amount_h), exps, issues, amount_h)
    fee_h = find("Service Fee", "Transaction Fee")
    fee = (
        column_values.amounts(table.col(fee_h), exps, issues, fee_h, required=False)
        if fee_h
        else pd.Series(pd.array([None] * n, dtype="Int64"))
    )
    ttype = table.col(type_h).fillna("").str.strip().str.lower()
    is_credit = (ttype == "credit").to_numpy(dtype=bool)
    unknown_type = ~ttype.isin(["sale", "credit"]).to_numpy(dtype=bool)
    issues.add(unknown_type, type_h, lambda i: f"unknown transaction type {ttype.iloc[i]!r}")
    sign = np.where(is_credit, -1, 1)
    signed = amount.abs() * sign
    net = signed - fee.fillna(0)

    sub_h, sub_cur_h = find("Amount Submitted For Settlement"), find("Currency ISO Code")
    orig_amount: pd.Series | None = None
    orig_cur: pd.Series | None = None
    if sub_h and sub_cur_h and sub_h != amount_h and sub_cur_h != cur_h:
        quiet = Issues(table)
        ocur = column_values.currencies(table.col(sub_cur_h), quiet, sub_cur_h)
        oamt = column_values.amounts(table.col(sub_h), column_values.exponents(ocur), quiet, sub_h)
        differs = (ocur != cur).fillna(False) & oamt.notna()
        orig_amount = (oamt.abs() * sign).where(differs)
        orig_cur = ocur.where(differs)

    table_importer.report(progress, 1, 2, "Converting dates")
    stamp_h = created_h or settled_h or ""
    _created_day, occurred = column_values.local_datetimes(
        table.col(stamp_h),
        None,
        None,
        Issues(table) if settled_h else issues,
        date_field=stamp_h,
        zone_field=None,
        date_format=None,
    )
    if settled_h:
        booked, _ = column_values.local_datetimes(
            table.col(settled_h).fillna(table.col(created_h)),
            None,
            None,
            issues,
            date_field=settled_h,
            zone_field=None,
            date_format=None,
        )
    else:
        booked = _created_day
    disb_h = find("Disbursement Date")
    merchant_h = find("Merchant Account", "Merchant Account ID")
    merchant = table.col(merchant_h).fillna("default")
    payout_ref: pd.Series | None = None
    if disb_h:
        disb, _ = column_values.local_datetimes(
            table.col(disb_h),
            None,
            None,
            issues,
            date_field=disb_h,
            zone_field=None,
            date_format=None,
        )
        day_text = disb.astype(STRING)
        payout_ref = ("disb-" + day_text + "-" + merchant).where(disb.notna())
    first, last = table.col(find("Customer First Name")), table.col(find("Customer Last Name"))
    person = (first.fillna("") + " " + last.fillna("")).str.strip()
    counterparty = column_values.first_of(
        person.mask(person == "", None),
        table.col(find("Customer Company")),
        table.col(find("Customer Email")),
    )
    description = (
        ttype.str.capitalize()
        + " "
        + table.col(find("Payment Instrument Type")).fillna("").str.replace("_", " ")
    )
    card = table.col(find("Card Type"))
    description = description.where(card.isna(), description + " " + card.fillna(""))
    ids = table.col(id_h)
    issues.add(ids.isna().to_numpy(dtype=bool), id_h, "transaction id is missing")
    column_values.repeated_ids(ids, issues, id_h, "transaction id")
    records: dict[str, Any] = {
        "line_no": table.line_no,
        "account": "braintree-" + merchant,
        "external_id": ids,
        "bank_ref": None,
        "booked_on": booked,
        "value_on": None,
        "occurred_at": occurred,
        "amount_minor": signed.fillna(0).astype("int64"),
        "currency": cur,
        "fee_minor": fee,
        "net_minor": net,
        "orig_amount_minor": orig_amount,
        "orig_currency": orig_cur,
        "kind": pd.Series(np.where(is_credit, "refund", "charge")).astype(STRING),
        "counterparty": counterparty,
        "description": description.str.strip().astype(STRING),
        "payout_ref": payout_ref,
        "raw": table.raw(),
        "ref_order": table.col(find("Order ID")),
        "ref_charge": table.col(find("Refunded Transaction ID", "Refunded Transaction")),
        "ref_customer": table.col(find("Customer ID")),
    }
    frame = table_importer.finish(records, issues)
    accounts: dict[str, AccountInfo] = {}
    for key, part in frame.groupby("account"):
        curs = pd.unique(part["currency"].dropna())
        m = str(key).removeprefix("braintree-")
        accounts[str(key)] = AccountInfo(
            key=str(key),
            kind="psp",
            provider="braintree",
            name=f"Braintree {m}",
            account_number=m,
            currency=str(curs[0]) if len(curs) == 1 else None,
        )
    table_importer.report(progress, 2, 2, "Read Braintree export")
    return table_importer.result("braintree", frame, accounts, issues, n)


class BraintreeImporter(ReportImporter):
    """Braintree transaction search export."""

    name = "braintree"
    label = "Braintree transaction search export"

    def score(self, names: set[str]) -> int:
        if {"transaction id", "transaction type", "transaction status"} <= names and names & {
            "settlement amount",
            "amount submitted for settlement",
            "disbursement date",
        }:
            return 95
        return 0


IMPORTER = BraintreeImporter(parse)
