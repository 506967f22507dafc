"""Demo data: a deterministic merchant month: orders, Stripe/Adyen settlements, bank, disputes.

`build_demo` is pure and vectorised (numpy draws, pyarrow string kernels): a million orders build in
seconds, so the same generator feeds the demo command, the tests (with ground truth) and `bench/`.
`load_demo` stores it through the ingest path (one batch per source) and adds the disputes.

What the month contains, and why (the reconciliation rules are tested against it):
- orders `ORD-1000001...` in a shop ledger, a few unpaid (no PSP line: exceptions);
- Stripe (~60 %) and Adyen (~40 %) charges; their order reference is exact in ~93 %, written
  differently in ~3 % (case, dash, leading zeros) and missing in ~4 % (amount + date must find it);
- refunds (~2 %), chargebacks with a -15.00 fee line and reinstatements for won cases, grouped into
  daily payouts whose payout line is minus the sum of the nets (a day that nets to <= 0 rolls into
  the next payout; refunds after the last sales end in one negative payout, a bank debit);
- one bank line per payout, the day after it (5 % without any id in the text), plus unrelated
  traffic (rent, salaries, suppliers, fees) that must stay unmatched;
- ~0.6 % of charges disputed with real network/reason-code pairs from `reason_codes.csv`.

This module draws the orders and assembles the month; its parts live beside it: `customers`,
`psp_lines` (charges, refunds, payouts), `dispute_cases`, `bank_lines`, the word lists in
`vocabulary`, the column kernels in `columns` and the storing in `storage`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from ...errors import UserError
from ...importers.base import RECORD_COLUMNS, AccountInfo, ParseResult, Progress
from ..common import audit
from ..common.bulk_write import deferred_indexes, row_count_estimate
from ..disputes import reason_codes
from .bank_lines import bank_frame
from .columns import (
    DAY,
    EPOCH,
    HEX,
    Calendar,
    cat,
    chars,
    json_objects,
    lookup,
    major,
    num,
    series,
)
from .customers import draw_customers, random_ips
from .dispute_cases import draw_disputes
from .psp_lines import charges_and_refunds, psp_frame, stripe_report_fields
from .storage import DemoSummary, has_records, linked_ids, store_disputes, store_source
from .vocabulary import ITEM_TEXT

DEFAULT_START = dt.date(2026, 10, 1)
ORDER_BASE = 1_000_001
TODAY_OFFSET_DAYS = 35  # the demo's "today", relative to `start`: disputes are due after it
DEMO_IBAN = "DE89370400440532013000"  # the ISO 13616 example IBAN (valid check digits)
SOURCE_KEYS = ("shop", "stripe", "adyen", "bank")
DEFER_INDEXES_AT = 50_000  # rows: from here one index rebuild beats maintaining them per row

# The demo's accounts: key (also the provider), source kind, name, account number.
_ACCOUNTS = (
    ("shop", "ledger", "Shop orders", None),
    ("stripe", "psp", "Stripe EUR", "acct_1DemoShopEUR00"),
    ("adyen", "psp", "Adyen EUR", "DemoShopECOM"),
    ("bank", "bank", "Main bank EUR", DEMO_IBAN),
)


@dataclass
class Truth:
    """Ground truth of the generated month (never stored in the database).

    Attributes:
        order_links: `order_id` (order external_id) <-> `psp_id` (external_id of its PSP charge),
            one row per PSP charge.
        payout_links: `payout_ref` (PSP payout id) <-> `bank_id` (external_id of its bank line),
            one row per payout.
    """

    order_links: pd.DataFrame
    payout_links: pd.DataFrame


@dataclass
class DemoData:
    """What `build_demo` returns.

    Attributes:
        results: one ParseResult per source, in the order shop, stripe, adyen, bank; the account
            key of each is the same word ("shop", "stripe", "adyen", "bank").
        disputes: keyword arguments for `models.Dispute`, plus `links`: a list of
            `{"account", "external_id", "role"}` (role charge, order, withdrawn, fee, reinstated).
        truth: ground truth for the reconciliation tests.
        extra: per account key, columns aligned with that result's records that are not stored:
            `created` (epoch seconds, UTC) and, for PSPs, `customer_email` and `source_id` (the
            Stripe object id: ch_, re_, dp_, po_); report writers use them.
        orders, seed, start: the parameters; today: the demo's notional current date
            (`start` + 35 days; open disputes are due 1..20 days after it).
    """

    results: list[ParseResult]
    disputes: list[dict[str, Any]]
    truth: Truth
    extra: dict[str, pd.DataFrame]
    orders: int
    seed: int
    start: dt.date
    today: dt.date

    def result(self, key: str) -> ParseResult:
        """The ParseResult of account key `key` ("shop", "stripe", "adyen", "bank")."""
        for r in self.results:
            if key in r.accounts:
                return r
        raise KeyError(key)


def build_demo(
    orders: int = 2000,
    *,
    seed: int = 7,
    start: dt.date = DEFAULT_START,
    stripe_share: float = 0.6,
) -> DemoData:
    """Generate a merchant month; same arguments, same frames.

    Args:
        orders: number of shop orders.
        seed: random seed.
        start: first day of the month.
        stripe_share: share of paid orders Stripe settles (the rest go to Adyen); benchmarks use 1.
    """
    if orders < 1:
        raise ValueError("orders must be at least 1")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED_DA7A]))
    days = calendar.monthrange(start.year, start.month)[1]
    today = TODAY_OFFSET_DAYS
    cal = Calendar(start, horizon=today + 120)
    n = orders

    # ---- customers -------------------------------------------------------------------------
    n_cust = max(20, -(-n // 3))
    customers = draw_customers(rng, n_cust)

    # ---- orders ----------------------------------------------------------------------------
    weekday = np.array([(start + dt.timedelta(days=d)).weekday() for d in range(days)])
    weights = np.where(weekday >= 5, 1.25, 1.0) * np.linspace(0.95, 1.05, days)
    day = rng.choice(days, size=n, p=weights / weights.sum())
    evening = rng.normal(20.0 * 3600, 2.5 * 3600, n)
    tod = np.where(rng.random(n) < 0.7, evening, rng.uniform(0, DAY, n))
    tod = np.clip(tod, 0, DAY - 1).astype(np.int64)
    o_created = np.sort(cal.epoch0 + day * DAY + tod)
    o_day = (o_created - cal.epoch0) // DAY
    cust = np.minimum((n_cust * rng.random(n) ** 1.7).astype(np.int64), n_cust - 1)
    o_gbp = customers.gb[cust]
    euros = np.exp(rng.normal(np.log(42.0), 0.75, n)).clip(4.9, 1500.0)
    o_amount = np.rint(euros * 100).astype(np.int64)
    psych = (rng.random(n) < 0.45) & (o_amount >= 100)
    o_amount = np.where(psych, o_amount // 100 * 100 + 99, o_amount)
    o_items = np.clip(1 + rng.poisson(0.8, n), 1, 9)
    o_ip = pc.if_else(
        pa.array(rng.random(n) < 0.85), customers.ip.take(pa.array(cust)), random_ips(rng, n)
    )
    o_device = pc.if_else(
        pa.array(rng.random(n) < 0.9),
        customers.device.take(pa.array(cust)),
        cat("dev_", chars(rng, n, 12, HEX)),
    )
    unpaid = np.zeros(n, dtype=bool)
    n_unpaid = min(max(2, round(n * 0.0015)), n // 10)
    if n_unpaid:
        unpaid[rng.choice(n, size=n_unpaid, replace=False)] = True
    stripe = (rng.random(n) < stripe_share) | o_gbp
    order_no = np.arange(ORDER_BASE, ORDER_BASE + n, dtype=np.int64)
    order_id = cat("ORD-", num(order_no))
    o_psp = np.where(unpaid, 0, np.where(stripe, 1, 2))
    o_status = np.where(unpaid, np.where(rng.random(n) < 0.5, 1, 2), 0)
    name_o = customers.name.take(pa.array(cust))
    email_o = customers.email.take(pa.array(cust))
    o_currency = lookup(("EUR", "GBP"), o_gbp.astype(np.int32))
    shop_raw = json_objects(
        [
            ("order_id", order_id, True),
            ("created_at", cal.stamp_text(o_created), True),
            ("status", lookup(("paid", "payment_failed", "pending_payment"), o_status), True),
            ("customer_name", name_o, True),
            ("customer_email", email_o, True),
            ("account_id", customers.account.take(pa.array(cust)), True),
            ("ip", o_ip, True),
            ("device_id", o_device, True),
            ("shipping_address", customers.address.take(pa.array(cust)), True),
            ("items", num(o_items), False),
            ("total", major(o_amount), True),
            ("currency", o_currency, True),
            ("payment_method", lookup(("none", "stripe", "adyen"), o_psp), True),
        ]
    )
    shop = pd.DataFrame(
        {
            "line_no": np.arange(1, n + 1, dtype=np.int64),
            "account": "shop",
            "external_id": series(order_id),
            "booked_on": cal.date_objs(o_day),
            "amount_minor": o_amount,
            "currency": series(o_currency),
            "kind": "order",
            "counterparty": series(name_o),
            "description": series(lookup(ITEM_TEXT, o_items)),
            "raw": series(shop_raw),
            "ref_order": series(order_id),
        }
    )

    # ---- PSP charges and refunds -------------------------------------------------------------
    lines, charges, adyen_state = charges_and_refunds(
        rng, cal, o_psp, o_created, o_gbp, o_amount, order_no, order_id
    )

    # ---- disputes --------------------------------------------------------------------------
    disputes = draw_disputes(
        rng,
        cal,
        charges,
        lines,
        adyen_state,
        today,
        order_id,
        o_items,
        {
            "name": name_o,
            "email": email_o,
            "ip": o_ip,
            "device": o_device,
            "addr": customers.address.take(pa.array(cust)),
            "account": customers.account.take(pa.array(cust)),
        },
    )

    # ---- payouts, PSP frames, bank ---------------------------------------------------------
    psp_frames: dict[str, pd.DataFrame] = {}
    extra: dict[str, pd.DataFrame] = {"shop": pd.DataFrame({"created": o_created})}
    payouts: list[dict[str, Any]] = []
    batch_no = [101 + seed % 400]
    for provider in ("stripe", "adyen"):
        frame, created, emails, source, po = psp_frame(
            rng, cal, provider, lines[provider], name_o, email_o, batch_no
        )
        psp_frames[provider] = frame
        extra[provider] = pd.DataFrame(
            {"created": created, "customer_email": series(emails), "source_id": series(source)}
        )
        payouts.extend(po)
    bank, bank_created, payout_links = bank_frame(rng, cal, payouts, start, days)
    extra["bank"] = pd.DataFrame({"created": bank_created})

    ch_links = []
    for provider in ("stripe", "adyen"):
        c = charges[provider]
        ch_links.append(
            pd.DataFrame(
                {
                    "order_id": series(order_id.take(pa.array(c["idx"]))),
                    "psp_id": series(c["ext"]),
                }
            )
        )
    truth = Truth(
        order_links=pd.concat(ch_links, ignore_index=True),
        payout_links=payout_links,
    )
    accounts = _accounts()
    results = [
        # Order ids are tokens through ref_order already; Stripe's txn_ ids are quoted nowhere.
        ParseResult(
            format="demo",
            accounts={"shop": accounts["shop"]},
            records=_finish(shop),
            tokenise_external_id=False,
        ),
        ParseResult(
            format="demo",
            accounts={"stripe": accounts["stripe"]},
            records=_finish(psp_frames["stripe"]),
            tokenise_external_id=False,
        ),
        ParseResult(
            format="demo",
            accounts={"adyen": accounts["adyen"]},
            records=_finish(psp_frames["adyen"]),
            # Adyen's 16-digit PSP references can pass Luhn; they are ids, not card numbers.
            pan_exempt_columns=("external_id", "ref_charge", "ref_dispute"),
        ),
        ParseResult(format="demo", accounts={"bank": accounts["bank"]}, records=_finish(bank)),
    ]
    return DemoData(
        results=results,
        disputes=disputes,
        truth=truth,
        extra=extra,
        orders=n,
        seed=seed,
        start=start,
        today=start + dt.timedelta(days=today),
    )


def _accounts() -> dict[str, AccountInfo]:
    return {
        key: AccountInfo(
            key=key, kind=kind, provider=key, name=name, account_number=number, currency="EUR"
        )
        for key, kind, name, number in _ACCOUNTS
    }


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Add the record columns a source does not have, as nulls (None, never NaN)."""
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)
    return df


def stripe_payout_report(data: DemoData) -> pa.Table:
    """The Stripe lines of `data` as an itemized payout reconciliation report (text columns).

    Payout lines themselves are not part of that report; amounts are major units ("12.34").
    """
    df = data.result("stripe").records
    created = data.extra["stripe"]["created"].to_numpy()
    keep = (df["kind"] != "payout").to_numpy()
    cal = Calendar(data.start, horizon=TODAY_OFFSET_DAYS + 120)
    epoch_day = (data.start - EPOCH).days
    payout_day_of = {
        ref: (d - data.start).days
        for ref, d in zip(df.loc[~keep, "external_id"], df.loc[~keep, "booked_on"], strict=True)
    }
    part = df[keep]
    p_days = part["payout_ref"].map(payout_day_of).to_numpy(dtype=np.int64)
    value_days = _days_from_dates(part["value_on"], epoch_day)
    refs = {
        c: pa.array(part[c]) if c in part else pa.nulls(len(part), pa.string())
        for c in ("ref_payment_intent", "ref_order")
    }
    fields = stripe_report_fields(
        cal,
        pa.array(part["external_id"]),
        created[keep],
        value_days,
        part["amount_minor"].to_numpy(np.int64),
        part["fee_minor"].to_numpy(np.int64),
        part["net_minor"].to_numpy(np.int64),
        pa.array(part["kind"].astype(str).to_numpy()),
        pa.array(part["description"]),
        pa.array(part["payout_ref"]),
        p_days,
        pa.array(data.extra["stripe"]["source_id"][keep]),
        refs["ref_payment_intent"],
        pa.array(data.extra["stripe"]["customer_email"][keep]),
        refs["ref_order"],
    )
    n = len(part)
    return pa.table(
        {
            name: pa.repeat(pa.scalar(values), n) if isinstance(values, str) else values
            for name, values, _ in fields
        }
    )


def _days_from_dates(values: pd.Series, epoch_day: int) -> np.ndarray:
    as_dt = pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)
    return as_dt - epoch_day


# --------------------------------------------------------------------------------------------
# Loading into a database


def load_demo(
    session: Session,
    *,
    orders: int = 2000,
    seed: int = 7,
    actor: str = "demo",
    progress: Progress | None = None,
    force: bool = False,
    start: dt.date = DEFAULT_START,
) -> DemoSummary:
    """Generate the demo month and store it in the caller's transaction (the caller commits).

    Args:
        session: an open Session.
        orders: number of shop orders.
        seed: random seed (the same seed gives the same data).
        actor: login recorded on the import batches and in the audit log.
        progress: `(done, total, text)`; may raise `Cancelled`.
        force: add the demo data even though the database already has records.
        start: first day of the demo month.

    Raises:
        UserError: the database already has records and `force` is not set.
    """
    if not force and has_records(session):
        raise UserError(
            "the database already has records; load the demo data into an empty database "
            "(or use --force to add it anyway)"
        )
    steps = 3 + len(SOURCE_KEYS)

    def report(done: int, text: str) -> None:
        if progress is not None:
            progress(done, steps, text)

    report(0, "Generating demo data")
    data = build_demo(orders, seed=seed, start=start)
    summary = DemoSummary(orders=orders, records={}, kinds={}, disputes=0)
    wanted = linked_ids(data.disputes)
    known: dict[tuple[str, str], int] = {}
    # One index rebuild for all four sources instead of one per batch (as ingest does per file).
    rows = sum(len(r.records) for r in data.results)
    big = rows >= DEFER_INDEXES_AT and rows >= row_count_estimate(session, "records")
    with deferred_indexes(session, ("records", "record_references"), enabled=big):
        for i, result in enumerate(data.results):
            key = next(iter(result.accounts))
            report(1 + i, f"Storing {result.accounts[key].name}")
            new_frame = store_source(session, result, key, seed, orders, actor, summary)
            if new_frame is not None and wanted.get(key):
                hit = new_frame[new_frame["external_id"].isin(wanted[key])]
                known.update(
                    ((key, e), int(r)) for e, r in zip(hit["external_id"], hit["id"], strict=True)
                )
        report(steps - 2, "Building indexes")
    report(steps - 1, "Adding disputes")
    reason_codes.ensure_loaded(session)
    summary.disputes = store_disputes(session, data.disputes, data.results, actor, known)
    summary.kinds = dict(sorted(summary.kinds.items()))
    audit.log(
        session,
        actor,
        "demo",
        "database",
        None,
        {"orders": orders, "seed": seed, "records": summary.records, "disputes": summary.disputes},
    )
    report(steps, "Done")
    return summary
