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
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...importers.base import RECORD_COLUMNS, AccountInfo, ParseResult, Progress
from ...models import Dispute, DisputeEvent, DisputeLink, ImportBatch, Record, Source
from ..common import audit
from ..common.bulk_write import deferred_indexes, row_count_estimate
from ..disputes import reason_codes
from ..imports.ingest import store
from .columns import (
    DAY,
    EPOCH,
    HEX,
    Calendar,
    Strs,
    adyen_refs,
    cat,
    chars,
    json_objects,
    lookup,
    major,
    num,
    series,
    stripe_ids,
)

DEFAULT_START = dt.date(2026, 10, 1)
ORDER_BASE = 1_000_001
TODAY_OFFSET_DAYS = 35  # the demo's "today", relative to `start`: disputes are due after it
DEMO_IBAN = "DE89370400440532013000"  # the ISO 13616 example IBAN (valid check digits)
DISPUTE_FEE_MINOR = 1500
SOURCE_KEYS = ("shop", "stripe", "adyen", "bank")
DEFER_INDEXES_AT = 50_000  # rows: from here one index rebuild beats maintaining them per row


# --------------------------------------------------------------------------------------------
# Public result types


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


@dataclass
class DemoSummary:
    """What `load_demo` stored."""

    orders: int
    records: dict[str, int]
    kinds: dict[str, int]
    disputes: int
    batches: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON object."""
        return {
            "orders": self.orders,
            "records": self.records,
            "kinds": self.kinds,
            "disputes": self.disputes,
            "batches": self.batches,
        }


# --------------------------------------------------------------------------------------------
# Vocabulary (no quotes or backslashes: values are pasted into JSON text as they are)

# fmt: off
_FIRST_DE = (
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Leon", "Emma", "Felix", "Mia", "Paul", "Lena",
    "Finn", "Hannah", "Noah", "Laura", "Elias", "Julia", "Ben", "Clara", "Max", "Sarah", "Tim",
    "Lea", "Jan", "Nina", "David", "Eva", "Tom", "Lisa", "Moritz", "Jörg", "Zoë", "Ömer", "Léa",
)
_LAST_DE = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Janssen", "Dubois", "Martin", "Rossi", "Yılmaz",
    "Nowak",
)
_FIRST_GB = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Olivia", "Jack", "Emily", "Charlie", "Grace",
)
_LAST_GB = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts",
    "Walker",
)
_STREETS_DE = (
    "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Bergstraße",
    "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Goethestraße", "Schillerstraße",
    "Am Markt", "Friedrichstraße", "Mozartweg", "Keizersgracht", "Rue de Rivoli",
    "Mariahilfer Straße",
)
_CITIES_DE = (
    "10115 Berlin, DE", "20095 Hamburg, DE", "80331 München, DE", "50667 Köln, DE",
    "60311 Frankfurt am Main, DE", "70173 Stuttgart, DE", "40213 Düsseldorf, DE",
    "04109 Leipzig, DE", "44135 Dortmund, DE", "28195 Bremen, DE", "01067 Dresden, DE",
    "30159 Hannover, DE", "90402 Nürnberg, DE", "1010 Wien, AT", "1017 Amsterdam, NL",
    "75001 Paris, FR", "8001 Zürich, CH", "1000 Bruxelles, BE",
)
_STREETS_GB = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Park Avenue",
)
_CITIES_GB = (
    "London SW1A 1AA, GB", "Manchester M1 1AE, GB", "Birmingham B1 1BB, GB", "Leeds LS1 1UR, GB",
    "Edinburgh EH1 1YZ, GB", "Bristol BS1 4DJ, GB",
)
_MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")
_IP_FIRST_OCTET = np.array(
    [31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 84, 85, 87, 88, 89, 91, 93, 94, 95, 109, 141, 176,
     178, 185, 188, 193, 195, 212, 213, 217],
    dtype=np.int64,
)
# fmt: on
_BRANDS = ("visa", "mc", "amex", "discover")
_NETWORKS = ("Visa", "Mastercard", "Amex", "Discover")
_BRAND_P = (0.55, 0.35, 0.07, 0.03)
_ITEM_TEXT = tuple(f"Web order, {k} item{'s' if k > 1 else ''}" for k in range(10))

# E-commerce reason codes the demo draws from (weight); each must exist in reason_codes.csv.
_DEMO_CODES: dict[str, tuple[tuple[str, int], ...]] = {
    "Visa": (
        ("10.4", 9),
        ("11.3", 1),
        ("12.5", 1),
        ("12.6.1", 1),
        ("13.1", 4),
        ("13.2", 2),
        ("13.3", 3),
        ("13.6", 2),
        ("13.7", 1),
    ),
    "Mastercard": (("4837", 6), ("4863", 3), ("4808", 1), ("4834", 1), ("4853", 6)),
    "Amex": (("F29", 4), ("F24", 2), ("C08", 3), ("C31", 2), ("C02", 1), ("A02", 1), ("P08", 1)),
    "Discover": (("UA02", 4), ("AA", 2), ("RG", 3), ("RM", 2), ("RN2", 1), ("NA", 1)),
}

_BANK_NAMES = {"stripe": "Stripe Payments Europe Ltd", "adyen": "Adyen N.V."}
# Unrelated bank traffic: (counterparty, text, min, max amount in minor units, sign, day or -1)
_TRAFFIC: tuple[tuple[str, str, int, int, int, int], ...] = (
    ("Immobilien Verwaltung Schmidt GmbH", "MIETE BUERO {mon}", 420_000, 420_000, -1, 0),
    ("Payroll Services GmbH", "GEHAELTER {mon}", 3_800_000, 5_200_000, -1, 26),
    ("Main bank EUR", "KONTOFUEHRUNG {mon}", 2_990, 4_990, -1, 29),
    ("Finanzamt Mitte", "UST-VORANMELDUNG {prev}", 900_000, 2_500_000, -1, 9),
    ("Verpackung Nord GmbH", "RECHNUNG VN-{inv} KARTONAGEN", 45_000, 260_000, -1, -1),
    ("Logistik Express AG", "FRACHT {mon} KD 4471 RG {inv}", 120_000, 900_000, -1, -1),
    ("CloudHost Europe BV", "HOSTING {mon}", 9_900, 49_900, -1, -1),
    ("Werbeagentur Blau", "KAMPAGNE HERBST RG {inv}", 150_000, 600_000, -1, -1),
    ("Main bank EUR", "ZINSGUTSCHRIFT", 1_000, 9_000, 1, 30),
    ("Stadtwerke", "STROM ABSCHLAG {mon}", 18_000, 34_000, -1, -1),
    ("Büro Bedarf Müller", "RE {inv} BUEROMATERIAL", 3_000, 40_000, -1, -1),
    ("Versicherung AG", "BETRIEBSHAFTPFLICHT {mon}", 25_000, 25_000, -1, 14),
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

STRIPE_REPORT_COLUMNS = (
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "description",
    "automatic_payout_id",
    "automatic_payout_effective_at_utc",
    "source_id",
    "payment_intent_id",
    "customer_email",
    "payment_metadata[order_id]",
)


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ë": "e", "é": "e"})
    out = text.lower().translate(table).replace("ı", "i")
    return "".join(ch for ch in out if ch.isalnum())


# --------------------------------------------------------------------------------------------
# Reason codes


def _demo_code_table() -> dict[str, list[tuple[dict[str, Any], int]]]:
    rows = {(r["network"], r["code"]): r for r in reason_codes.read_csv()}
    table: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for network, codes in _DEMO_CODES.items():
        table[network] = [(rows[(network, code)], weight) for code, weight in codes]
    return table


def _stripe_reason(category: str, title: str) -> str:
    t = title.lower()
    if category == "fraud":
        return "fraudulent"
    if "duplicate" in t:
        return "duplicate"
    if "credit not" in t:
        return "credit_not_processed"
    if "recurring" in t:
        return "subscription_canceled"
    if "not received" in t or "not provided" in t or "non-receipt" in t:
        return "product_not_received"
    if "described" in t or "defective" in t or "quality" in t or "dispute" in t:
        return "product_unacceptable"
    if "cancel" in t:
        return "product_unacceptable"
    return "general"


# --------------------------------------------------------------------------------------------
# The generator


@dataclass
class _Lines:
    """PSP lines of one provider while they are being assembled (plain numpy/pyarrow columns)."""

    kind: list[np.ndarray] = field(default_factory=list)
    created: list[np.ndarray] = field(default_factory=list)
    amount: list[np.ndarray] = field(default_factory=list)
    fee: list[np.ndarray] = field(default_factory=list)
    orig: list[np.ndarray] = field(default_factory=list)  # GBP amount or -1
    order: list[np.ndarray] = field(default_factory=list)  # order index or -1
    ext: list[Any] = field(default_factory=list)
    refs: dict[str, list[Any]] = field(default_factory=dict)
    source_id: list[Any] = field(default_factory=list)  # Stripe source object id (ch_, re_, dp_)
    text: list[Any] = field(default_factory=list)

    def add(
        self,
        kind: str,
        created: np.ndarray,
        amount: np.ndarray,
        fee: np.ndarray,
        order: np.ndarray,
        ext: Any,
        text: Any,
        refs: dict[str, Any],
        source_id: Any = None,
        orig: np.ndarray | None = None,
    ) -> None:
        n = len(created)
        self.kind.append(np.full(n, kind, dtype=object))
        self.created.append(np.asarray(created, dtype=np.int64))
        self.amount.append(np.asarray(amount, dtype=np.int64))
        self.fee.append(np.asarray(fee, dtype=np.int64))
        self.orig.append(np.full(n, -1, np.int64) if orig is None else orig.astype(np.int64))
        self.order.append(np.asarray(order, dtype=np.int64))
        self.ext.append(ext)
        self.text.append(text if not isinstance(text, str) else pa.array([text] * n, pa.string()))
        self.source_id.append(source_id if source_id is not None else pa.nulls(n, pa.string()))
        for name in ("order", "charge", "payment_intent", "refund", "dispute"):
            self.refs.setdefault(name, []).append(refs.get(name, pa.nulls(n, pa.string())))

    def ref(self, name: str) -> Strs:
        return pa.concat_arrays([v.cast(pa.string()) for v in self.refs[name]])


def _fees(provider: str, amount: np.ndarray, gbp: np.ndarray) -> np.ndarray:
    """PSP fee in cents, half up: Stripe 1.4 % + 0.25 (UK cards 3.25 %), Adyen 1.2 % + 0.13."""
    if provider == "stripe":
        domestic = (amount * 14 + 500) // 1000 + 25
        foreign = (amount * 325 + 5000) // 10000 + 25
        return np.where(gbp, foreign, domestic)
    return (amount * 12 + 500) // 1000 + 13


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
    gb = rng.random(n_cust) < 0.02
    first = np.where(
        gb,
        len(_FIRST_DE) + rng.integers(0, len(_FIRST_GB), n_cust),
        rng.integers(0, len(_FIRST_DE), n_cust),
    )
    last = np.where(
        gb,
        len(_LAST_DE) + rng.integers(0, len(_LAST_GB), n_cust),
        rng.integers(0, len(_LAST_DE), n_cust),
    )
    firsts, lasts = _FIRST_DE + _FIRST_GB, _LAST_DE + _LAST_GB
    c_name = cat(lookup(firsts, first), " ", lookup(lasts, last))
    c_email = cat(
        lookup([_ascii(f) for f in firsts], first),
        ".",
        lookup([_ascii(s) for s in lasts], last),
        num(rng.integers(1, 100, n_cust)),
        "@",
        lookup(_MAIL_DOMAINS, rng.integers(0, len(_MAIL_DOMAINS), n_cust)),
    )
    c_account = cat("CUST-", num(np.arange(1, n_cust + 1), 7))
    c_ip = _random_ips(rng, n_cust)
    c_device = cat("dev_", chars(rng, n_cust, 12, HEX))
    house = num(rng.integers(1, 180, n_cust))
    de_addr = cat(
        lookup(_STREETS_DE, rng.integers(0, len(_STREETS_DE), n_cust)),
        " ",
        house,
        ", ",
        lookup(_CITIES_DE, rng.integers(0, len(_CITIES_DE), n_cust)),
    )
    gb_addr = cat(
        house,
        " ",
        lookup(_STREETS_GB, rng.integers(0, len(_STREETS_GB), n_cust)),
        ", ",
        lookup(_CITIES_GB, rng.integers(0, len(_CITIES_GB), n_cust)),
    )
    c_addr = pc.if_else(pa.array(gb), gb_addr, de_addr)

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
    o_gbp = gb[cust]
    euros = np.exp(rng.normal(np.log(42.0), 0.75, n)).clip(4.9, 1500.0)
    o_amount = np.rint(euros * 100).astype(np.int64)
    psych = (rng.random(n) < 0.45) & (o_amount >= 100)
    o_amount = np.where(psych, o_amount // 100 * 100 + 99, o_amount)
    o_items = np.clip(1 + rng.poisson(0.8, n), 1, 9)
    o_ip = pc.if_else(
        pa.array(rng.random(n) < 0.85), c_ip.take(pa.array(cust)), _random_ips(rng, n)
    )
    o_device = pc.if_else(
        pa.array(rng.random(n) < 0.9),
        c_device.take(pa.array(cust)),
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
    name_o = c_name.take(pa.array(cust))
    email_o = c_email.take(pa.array(cust))
    o_currency = lookup(("EUR", "GBP"), o_gbp.astype(np.int32))
    shop_raw = json_objects(
        [
            ("order_id", order_id, True),
            ("created_at", cal.stamp_text(o_created), True),
            ("status", lookup(("paid", "payment_failed", "pending_payment"), o_status), True),
            ("customer_name", name_o, True),
            ("customer_email", email_o, True),
            ("account_id", c_account.take(pa.array(cust)), True),
            ("ip", o_ip, True),
            ("device_id", o_device, True),
            ("shipping_address", c_addr.take(pa.array(cust)), True),
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
            "description": series(lookup(_ITEM_TEXT, o_items)),
            "raw": series(shop_raw),
            "ref_order": series(order_id),
        }
    )

    # ---- PSP charges and refunds -------------------------------------------------------------
    fx_micro = 1_150_000 + rng.integers(-15_000, 15_000, cal.dates.size)
    adyen_state = [881_500_000_000_000 + int(rng.integers(0, 10**12))]
    lines = {"stripe": _Lines(), "adyen": _Lines()}
    charges: dict[str, dict[str, Any]] = {}
    for code, provider in ((1, "stripe"), (2, "adyen")):
        idx = np.flatnonzero(o_psp == code)
        m = idx.size
        lag = np.where(
            rng.random(m) < 0.15,
            rng.integers(8 * 3600, 30 * 3600, m),
            rng.integers(5, 900, m),
        )
        created = o_created[idx] + lag
        cday = (created - cal.epoch0) // DAY
        gbp = o_gbp[idx]
        amount = np.where(
            gbp,
            (o_amount[idx] * fx_micro[np.minimum(cday, fx_micro.size - 1)] + 500_000) // 10**6,
            o_amount[idx],
        )
        orig = np.where(gbp, o_amount[idx], -1)
        fee = _fees(provider, amount, gbp)
        ref_order = _order_variants(rng, order_no[idx], order_id.take(pa.array(idx)))
        brand = rng.choice(4, size=m, p=_BRAND_P)
        if provider == "stripe":
            ext = stripe_ids(rng, "txn_", m)
            charge_id = stripe_ids(rng, "ch_", m)
            intent = stripe_ids(rng, "pi_", m)
            refs = {"order": ref_order, "charge": charge_id, "payment_intent": intent}
            lines[provider].add(
                "charge", created, amount, fee, idx, ext, "Card payment", refs, charge_id, orig
            )
        else:
            ext = adyen_refs(rng, m, adyen_state)
            charge_id, intent = ext, pa.nulls(m, pa.string())
            refs = {"order": ref_order}
            lines[provider].add(
                "charge", created, amount, fee, idx, ext, "Settled", refs, None, orig
            )
        charges[provider] = {
            "idx": idx,
            "created": created,
            "day": cday,
            "amount": amount,
            "gbp": gbp,
            "ext": ext,
            "charge_id": charge_id,
            "intent": intent,
            "ref_order": ref_order,
            "brand": brand,
            "refunded": np.zeros(m, dtype=bool),
        }
        # refunds: ~2 % of charges, full or partial, 1..12 days later
        r = np.flatnonzero(rng.random(m) < 0.02)
        charges[provider]["refunded"][r] = True
        k = r.size
        r_created = created[r] + rng.integers(1, 12, k) * DAY + rng.integers(-3600, 3600, k)
        partial = rng.random(k) < 0.3
        share = rng.integers(20, 80, k)
        r_amount = np.where(partial, np.maximum(100, amount[r] * share // 100), amount[r])
        r_amount = np.minimum(r_amount, amount[r])
        r_refs = {
            "order": ref_order.take(pa.array(r)),
            "charge": charge_id.take(pa.array(r)),
            "payment_intent": intent.take(pa.array(r)),
        }
        if provider == "stripe":
            refund_id = stripe_ids(rng, "re_", k)
            r_refs["refund"] = refund_id
            r_ext = stripe_ids(rng, "txn_", k)
            text: Any = "REFUND FOR CHARGE (Card payment)"
            source: Any = refund_id
        else:
            r_ext = adyen_refs(rng, k, adyen_state)
            text, source = "Refunded", None
        lines[provider].add(
            "refund",
            r_created,
            -r_amount,
            np.zeros(k, np.int64),
            idx[r],
            r_ext,
            text,
            r_refs,
            source,
        )

    # ---- disputes --------------------------------------------------------------------------
    disputes = _disputes(
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
            "addr": c_addr.take(pa.array(cust)),
            "account": c_account.take(pa.array(cust)),
        },
    )

    # ---- payouts, PSP frames, bank ---------------------------------------------------------
    psp_frames: dict[str, pd.DataFrame] = {}
    extra: dict[str, pd.DataFrame] = {"shop": pd.DataFrame({"created": o_created})}
    payouts: list[dict[str, Any]] = []
    batch_no = [101 + seed % 400]
    for provider in ("stripe", "adyen"):
        frame, created, emails, source, po = _psp_frame(
            rng, cal, provider, lines[provider], name_o, email_o, batch_no
        )
        psp_frames[provider] = frame
        extra[provider] = pd.DataFrame(
            {"created": created, "customer_email": series(emails), "source_id": series(source)}
        )
        payouts.extend(po)
    bank, bank_created, payout_links = _bank_frame(rng, cal, payouts, start, days)
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
        "shop": AccountInfo(
            key="shop", kind="ledger", provider="shop", name="Shop orders", currency="EUR"
        ),
        "stripe": AccountInfo(
            key="stripe",
            kind="psp",
            provider="stripe",
            name="Stripe EUR",
            account_number="acct_1DemoShopEUR00",
            currency="EUR",
        ),
        "adyen": AccountInfo(
            key="adyen",
            kind="psp",
            provider="adyen",
            name="Adyen EUR",
            account_number="DemoShopECOM",
            currency="EUR",
        ),
        "bank": AccountInfo(
            key="bank",
            kind="bank",
            provider="bank",
            name="Main bank EUR",
            account_number=DEMO_IBAN,
            currency="EUR",
        ),
    }


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Add the record columns a source does not have, as nulls (None, never NaN)."""
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype=object)
    return df


def _random_ips(rng: np.random.Generator, n: int) -> Strs:
    octets = rng.integers(1, 255, size=(n, 3))
    first = _IP_FIRST_OCTET[rng.integers(0, _IP_FIRST_OCTET.size, n)]
    return cat(num(first), ".", num(octets[:, 0]), ".", num(octets[:, 1]), ".", num(octets[:, 2]))


def _order_variants(rng: np.random.Generator, numbers: np.ndarray, exact: Strs) -> Strs:
    """The order id as the PSP has it: exact (~93 %), written differently (~3 %), missing (~4 %)."""
    m = numbers.size
    u = rng.random(m)
    style = rng.integers(0, 3, m)
    num_text = num(numbers)
    variants = [
        cat("ord-", num_text),  # lower case
        cat("ORD", num_text),  # missing dash
        cat("ORD-0", num_text),  # leading zero
    ]
    different = variants[0]
    different = pc.if_else(pa.array(style == 1), variants[1], different)
    different = pc.if_else(pa.array(style == 2), variants[2], different)
    out = pc.if_else(pa.array(u < 0.93), exact, different)
    return pc.if_else(pa.array(u >= 0.96), pa.nulls(m, pa.string()), out)


# Status and stage mixes (40/25/20/15 %, 20 % inquiries, a few pre-arbitrations), laid out so
# that even a handful of cases shows each of them, then shuffled.
_STATUS_PATTERN = (
    "needs_response", "under_review", "won", "lost", "needs_response", "under_review", "won",
    "needs_response", "lost", "under_review", "needs_response", "won", "needs_response",
    "under_review", "lost", "needs_response", "won", "under_review", "needs_response",
    "needs_response",
)  # fmt: skip
_STAGE_PATTERN = (
    "chargeback", "inquiry", "chargeback", "chargeback", "pre_arbitration", "chargeback",
    "inquiry", "chargeback", "chargeback", "chargeback",
)  # fmt: skip


def _spread(rng: np.random.Generator, k: int, pattern: Sequence[str]) -> list[str]:
    tiled = [pattern[i % len(pattern)] for i in range(k)]
    return [tiled[i] for i in rng.permutation(k)]


def _disputes(
    rng: np.random.Generator,
    cal: Calendar,
    charges: dict[str, dict[str, Any]],
    lines: dict[str, _Lines],
    adyen_state: list[int],
    today: int,
    order_id: Strs,
    items: np.ndarray,
    people: dict[str, Strs],
) -> list[dict[str, Any]]:
    """Pick ~0.6 % of charges, add their money trail to `lines`, return Dispute kwargs + links."""
    eligible = {p: np.flatnonzero(~c["refunded"] & ~c["gbp"]) for p, c in charges.items()}
    n_stripe = eligible["stripe"].size
    pool_size = n_stripe + eligible["adyen"].size
    total = sum(len(c["idx"]) for c in charges.values())
    # ~0.6 % of charges; at least a few to work with, but never most of a tiny month
    k = min(max(5, round(total * 0.006)), max(1, pool_size // 10), pool_size)
    if k == 0:
        return []
    chosen = np.sort(rng.choice(pool_size, size=k, replace=False))
    is_stripe = chosen < n_stripe
    picks = [
        ("stripe", int(eligible["stripe"][j]))
        if s
        else ("adyen", int(eligible["adyen"][j - n_stripe]))
        for j, s in zip(chosen.tolist(), is_stripe.tolist(), strict=True)
    ]
    dp_ids = iter(stripe_ids(rng, "dp_", int(is_stripe.sum())).to_pylist())
    adyen_ids = iter(adyen_refs(rng, int((~is_stripe).sum()), adyen_state).to_pylist())
    order_rows = pa.array(np.array([int(charges[p]["idx"][ci]) for p, ci in picks], dtype=np.int64))
    who = {key: values.take(order_rows).to_pylist() for key, values in people.items()}
    order_refs = order_id.take(order_rows).to_pylist()
    codes = _demo_code_table()
    statuses = _spread(rng, k, _STATUS_PATTERN)
    stages = _spread(rng, k, _STAGE_PATTERN)
    opened_off = rng.integers(4, 26, k)
    opened_tod = rng.integers(6 * 3600, 22 * 3600, k)
    due_off = rng.integers(1, 21, k)
    reverse_off = rng.integers(8, 25, k)
    code_u = rng.random(k)
    out: list[dict[str, Any]] = []
    trail: dict[str, dict[str, list[Any]]] = {
        p: {"withdraw": [], "fee": [], "reinstate": []} for p in ("stripe", "adyen")
    }
    for j, (provider, ci) in enumerate(picks):
        c = charges[provider]
        network = _NETWORKS[int(c["brand"][ci])]
        table = codes[network]
        weights = np.array([w for _, w in table], dtype=float)
        pick = int(np.searchsorted(np.cumsum(weights) / weights.sum(), code_u[j]))
        row = table[min(pick, len(table) - 1)][0]
        status, stage = statuses[j], stages[j]
        if stage == "inquiry" and status in ("won", "lost"):
            stage = "chargeback"  # an inquiry that was not answered became a chargeback
        cday = int(c["day"][ci])
        oday = max(cday + 1, min(cday + int(opened_off[j]), today - 1))
        opened = cal.epoch0 + oday * DAY + int(opened_tod[j])
        if status == "needs_response":
            due_day = today + int(due_off[j])
        else:
            due_day = oday + (row["response_days"] or 30)
        due = cal.epoch0 + due_day * DAY + DAY - 1
        amount = int(c["amount"][ci])
        oi = int(c["idx"][ci])
        order_ref = order_refs[j]
        charge_ext = c["ext"][ci].as_py()
        charge_ref = c["charge_id"][ci].as_py()
        dispute_id = next(dp_ids) if provider == "stripe" else next(adyen_ids)
        links = [
            {"account": provider, "external_id": charge_ext, "role": "charge"},
            {"account": "shop", "external_id": order_ref, "role": "order"},
        ]
        if stage != "inquiry":
            trail[provider]["withdraw"].append((j, ci, opened, -amount))
            trail[provider]["fee"].append((j, ci, opened + 1, -DISPUTE_FEE_MINOR))
            if status == "won":
                rday = max(oday + 1, min(oday + int(reverse_off[j]), today - 1))
                trail[provider]["reinstate"].append((j, ci, cal.epoch0 + rday * DAY + 7200, amount))
        customer = {
            "name": who["name"][j],
            "email": who["email"][j],
            "ip": who["ip"][j],
            "device_id": who["device"][j],
            "shipping_address": who["addr"][j],
            "account_id": who["account"][j],
        }
        opened_at = dt.datetime.fromtimestamp(opened, dt.UTC)
        due_by = dt.datetime.fromtimestamp(due, dt.UTC)
        reason = _stripe_reason(row["category"], row["title"])
        if provider == "stripe":
            stripe_status = f"warning_{status}" if stage == "inquiry" else status
            raw: dict[str, Any] = {
                "id": dispute_id,
                "object": "dispute",
                "amount": amount,
                "currency": "eur",
                "charge": charge_ref,
                "payment_intent": c["intent"][ci].as_py(),
                "created": opened,
                "reason": reason,
                "status": stripe_status,
                "evidence_details": {"due_by": due},
                "payment_method_details": {
                    "card": {
                        "brand": _BRANDS[int(c["brand"][ci])],
                        "network_reason_code": row["code"],
                        "case_type": "inquiry" if stage == "inquiry" else "chargeback",
                    }
                },
            }
        else:
            event = {
                "inquiry": "REQUEST_FOR_INFORMATION",
                "chargeback": "CHARGEBACK",
                "pre_arbitration": "PREARBITRATION_LOST" if status == "lost" else "CHARGEBACK",
            }[stage]
            raw = {
                "eventCode": event,
                "pspReference": dispute_id,
                "originalReference": charge_ref,
                "merchantReference": order_ref,
                "amount": {"currency": "EUR", "value": amount},
                "eventDate": opened_at.isoformat(),
                "reason": row["title"],
                "additionalData": {
                    "chargebackReasonCode": row["code"],
                    "chargebackSchemeCode": _BRANDS[int(c["brand"][ci])],
                    "defendabilityDueDate": due_by.isoformat(),
                },
            }
        out.append(
            {
                "psp": provider,
                "psp_dispute_id": dispute_id,
                "network": network,
                "reason_code": row["code"],
                "reason_category": reason_codes.normalise_category(row["category"]),
                "psp_reason": reason if provider == "stripe" else row["title"][:64],
                "stage": stage,
                "status": status,
                "amount_minor": amount,
                "currency": "EUR",
                "opened_at": opened_at,
                "due_by": due_by,
                "charge_ref": charge_ref,
                "order_ref": order_ref,
                "customer": customer,
                "product_description": _ITEM_TEXT[int(items[oi])],
                "raw": raw,
                "links": links,
            }
        )
    # the money trail, as PSP lines (vectorised per kind)
    for provider, kinds in trail.items():
        c = charges[provider]
        for kind, rows in kinds.items():
            if not rows:
                continue
            js = [r[0] for r in rows]
            cis = pa.array(np.array([r[1] for r in rows], dtype=np.int64))
            created = np.array([r[2] for r in rows], dtype=np.int64)
            amounts = np.array([r[3] for r in rows], dtype=np.int64)
            m = len(rows)
            dispute_ids = pa.array([out[j]["psp_dispute_id"] for j in js])
            refs = {
                "order": c["ref_order"].take(cis),
                "charge": c["charge_id"].take(cis),
                "payment_intent": c["intent"].take(cis),
                "dispute": dispute_ids,
            }
            rec_kind = {"withdraw": "dispute", "fee": "fee", "reinstate": "dispute_reversal"}[kind]
            if provider == "stripe":
                ext = stripe_ids(rng, "txn_", m)
                text = {
                    "withdraw": cat("Chargeback withdrawal for ", refs["charge"]),
                    "fee": cat("Dispute fee for ", refs["charge"]),
                    "reinstate": cat("Chargeback reversal for ", refs["charge"]),
                }[kind]
                source: Any = dispute_ids
            else:
                ext = dispute_ids if kind == "withdraw" else adyen_refs(rng, m, adyen_state)
                text = {
                    "withdraw": "Chargeback",
                    "fee": "Chargeback fee",
                    "reinstate": "ChargebackReversed",
                }[kind]
                source = None
            if kind == "fee":
                refs.pop("order")
            lines[provider].add(
                rec_kind,
                created,
                amounts,
                np.zeros(m, np.int64),
                np.asarray(c["idx"])[np.array([r[1] for r in rows])]
                if kind != "fee"
                else np.full(m, -1, np.int64),
                ext,
                text,
                refs,
                source,
            )
            for j, e in zip(js, ext.to_pylist(), strict=True):
                role = {"withdraw": "withdrawn", "fee": "fee", "reinstate": "reinstated"}[kind]
                out[j]["links"].append({"account": provider, "external_id": e, "role": role})
    return out


def _psp_frame(
    rng: np.random.Generator,
    cal: Calendar,
    provider: str,
    lines: _Lines,
    names: Strs,
    emails: Strs,
    batch_no: list[int],
) -> tuple[pd.DataFrame, np.ndarray, Strs, Strs, list[dict[str, Any]]]:
    """Group one PSP's lines into daily payouts, add the payout lines, sort, build the frame."""
    kind = np.concatenate(lines.kind)
    created = np.concatenate(lines.created)
    amount = np.concatenate(lines.amount)
    fee = np.concatenate(lines.fee)
    orig = np.concatenate(lines.orig)
    order = np.concatenate(lines.order)
    ext = pa.concat_arrays([v.cast(pa.string()) for v in lines.ext])
    text = pa.concat_arrays([v.cast(pa.string()) for v in lines.text])
    source_id = pa.concat_arrays([v.cast(pa.string()) for v in lines.source_id])
    refs = {name: lines.ref(name) for name in lines.refs}
    net = amount - fee
    day = (created - cal.epoch0) // DAY
    settle = day + 2

    # Daily payouts; a day whose lines sum to <= 0 is carried into the next payout (as PSPs do).
    # Payout ids are drawn per payout, so the day a line settles decides its payout alone.
    settle_days, inverse = np.unique(settle, return_inverse=True)
    sums = np.zeros(settle_days.size, dtype=np.int64)
    np.add.at(sums, inverse, net)
    group_of_day = np.zeros(settle_days.size, dtype=np.int64)
    payout_day: list[int] = []
    pending: list[int] = []
    acc = 0
    for j, total in enumerate(sums.tolist()):
        pending.append(j)
        acc += total
        if acc > 0:
            group_of_day[pending] = len(payout_day)
            payout_day.append(int(settle_days[j]))
            pending, acc = [], 0
    if pending:  # refunds and chargebacks after the last sales: a negative payout (bank debit)
        group_of_day[pending] = len(payout_day)
        payout_day.append(int(settle_days[pending[-1]]))
    k = len(payout_day)
    group = group_of_day[inverse]
    totals = np.zeros(k, dtype=np.int64)
    np.add.at(totals, group, net)
    pday = np.array(payout_day, dtype=np.int64)
    if provider == "stripe":
        payout_ids = stripe_ids(rng, "po_", k)
        payout_text: Any = pa.array(["STRIPE PAYOUT"] * k, pa.string())
    else:
        numbers = np.arange(batch_no[0], batch_no[0] + k)
        batch_no[0] += k
        payout_ids = cat("batch-", num(numbers))
        payout_text = pa.array(["MerchantPayout"] * k, pa.string())
    p_created = cal.epoch0 + pday * DAY + rng.integers(3600, 5 * 3600, k)

    # append the payout lines
    kind = np.concatenate([kind, np.full(k, "payout", dtype=object)])
    created = np.concatenate([created, p_created])
    amount = np.concatenate([amount, -totals])
    fee = np.concatenate([fee, np.zeros(k, np.int64)])
    orig = np.concatenate([orig, np.full(k, -1, np.int64)])
    order = np.concatenate([order, np.full(k, -1, np.int64)])
    ext = pa.concat_arrays([ext, payout_ids])
    text = pa.concat_arrays([text, payout_text])
    source_id = pa.concat_arrays(
        [source_id, payout_ids if provider == "stripe" else pa.nulls(k, pa.string())]
    )
    refs = {n_: pa.concat_arrays([v, pa.nulls(k, pa.string())]) for n_, v in refs.items()}
    group = np.concatenate([group, np.arange(k)])
    net = amount - fee
    day = (created - cal.epoch0) // DAY
    value_day = np.where(kind == "payout", pday[group] + 1, day + 2)

    order_sort = np.lexsort((np.arange(created.size), created))
    take = pa.array(order_sort)
    kind, created, amount, fee, net, orig, order, day, value_day, group = (
        a[order_sort] for a in (kind, created, amount, fee, net, orig, order, day, value_day, group)
    )
    ext, text, source_id = ext.take(take), text.take(take), source_id.take(take)
    refs = {n_: v.take(take) for n_, v in refs.items()}
    has_order = order >= 0
    safe_order = pa.array(np.where(has_order, order, 0))
    mask = pa.array(~has_order)
    counterparty = pc.if_else(mask, pa.nulls(len(order), pa.string()), names.take(safe_order))
    email = pc.if_else(mask, pa.nulls(len(order), pa.string()), emails.take(safe_order))
    payout_ref = payout_ids.take(pa.array(group))
    m = created.size

    if provider == "stripe":
        category = pa.array(kind.astype(str)).cast(pa.string())
        raw = json_objects(
            [
                (col, values, quoted)
                for col, values, quoted in _stripe_report_fields(
                    cal,
                    ext,
                    created,
                    value_day,
                    amount,
                    fee,
                    net,
                    category,
                    text,
                    payout_ref,
                    pday[group],
                    source_id,
                    refs["payment_intent"],
                    email,
                    refs["order"],
                )
            ]
        )
    else:
        # The PSP references are the record's external_id / ref_charge already; keeping the
        # 16-digit numbers out of `raw` spares the card-number scan a million look-alikes.
        adyen_type = text
        brand = lookup(_BRANDS, rng.choice(4, size=m, p=_BRAND_P))
        raw = json_objects(
            [
                ("Company Account", "DemoShopGroup", True),
                ("Merchant Account", "DemoShopECOM", True),
                ("Merchant Reference", refs["order"], True),
                ("Payment Method", pc.if_else(mask, pa.nulls(m, pa.string()), brand), True),
                ("Creation Date", cal.stamp_text(created), True),
                ("TimeZone", "UTC", True),
                ("Type", adyen_type, True),
                ("Gross Currency", "EUR", True),
                ("Gross", major(amount), True),
                ("Net Currency", "EUR", True),
                ("Net", major(net), True),
                ("Commission (NC)", major(fee), True),
                ("Batch Number", payout_ref, True),
            ]
        )
    frame = pd.DataFrame(
        {
            "line_no": np.arange(1, m + 1, dtype=np.int64),
            "account": provider,
            "external_id": series(ext),
            "booked_on": cal.date_objs(day),
            "value_on": cal.date_objs(value_day),
            "amount_minor": amount,
            "currency": "EUR",
            "fee_minor": fee,
            "net_minor": net,
            "orig_amount_minor": _sparse(orig, orig >= 0),
            "orig_currency": _sparse(np.full(m, "GBP", dtype=object), orig >= 0),
            "kind": pd.Series(kind, dtype=object),
            "counterparty": series(counterparty),
            "description": series(text),
            "payout_ref": series(payout_ref),
            "raw": series(raw),
        }
    )
    for name, values in refs.items():
        if values.null_count < len(values):
            frame[f"ref_{name}"] = series(values)
    payouts = [
        {
            "provider": provider,
            "payout_ref": pid,
            "day": int(d),
            "amount": int(t),
        }
        for pid, d, t in zip(payout_ids.to_pylist(), pday.tolist(), totals.tolist(), strict=True)
    ]
    return frame, created, email, source_id, payouts


def _stripe_report_fields(
    cal: Calendar,
    ext: Strs,
    created: np.ndarray,
    value_day: np.ndarray,
    amount: np.ndarray,
    fee: np.ndarray,
    net: np.ndarray,
    category: Strs,
    text: Strs,
    payout_ref: Strs,
    payout_day: np.ndarray,
    source_id: Strs,
    intent: Strs,
    email: Strs,
    order_ref: Strs,
) -> list[tuple[str, Any, bool]]:
    """The columns of a Stripe itemized payout reconciliation report (major units, UTC)."""
    return [
        ("balance_transaction_id", ext, True),
        ("created_utc", cal.stamp_text(created), True),
        ("available_on_utc", cat(cal.iso_text(value_day), " 00:00:00"), True),
        ("currency", "eur", True),
        ("gross", major(amount), True),
        ("fee", major(fee), True),
        ("net", major(net), True),
        ("reporting_category", category, True),
        ("description", text, True),
        ("automatic_payout_id", payout_ref, True),
        ("automatic_payout_effective_at_utc", cat(cal.iso_text(payout_day), " 00:00:00"), True),
        ("source_id", source_id, True),
        ("payment_intent_id", intent, True),
        ("customer_email", email, True),
        ("payment_metadata[order_id]", order_ref, True),
    ]


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
    fields = _stripe_report_fields(
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


def _sparse(values: np.ndarray, present: np.ndarray) -> pd.Series:
    """Object column: Python values where `present`, else None (no NaN, no float)."""
    out = np.full(values.size, None, dtype=object)
    out[present] = values[present].tolist()
    return pd.Series(out, dtype=object)


def _days_from_dates(values: pd.Series, epoch_day: int) -> np.ndarray:
    as_dt = pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)
    return as_dt - epoch_day


def _bank_frame(
    rng: np.random.Generator,
    cal: Calendar,
    payouts: list[dict[str, Any]],
    start: dt.date,
    days: int,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Bank lines: one per payout (the day after it) plus unrelated traffic (~15 %)."""
    k = len(payouts)
    provider = np.array([p["provider"] for p in payouts], dtype=object)
    amount = np.array([p["amount"] for p in payouts], dtype=np.int64)
    bday = np.array([p["day"] for p in payouts], dtype=np.int64) + 1
    refs = pa.array([p["payout_ref"] for p in payouts], pa.string())
    is_stripe = pa.array(provider == "stripe")
    helpful = cat(
        pc.if_else(is_stripe, pa.scalar("STRIPE PAYMENTS "), pa.scalar("ADYEN N.V. BATCH ")),
        pc.if_else(
            is_stripe,
            refs,
            cat(pc.replace_substring(refs, "batch-", ""), " ", refs),
        ),
    )
    plain = rng.random(k) < 0.05
    text = pc.if_else(pa.array(plain), pa.scalar("SEPA CREDIT TRANSFER"), helpful)
    who = pc.if_else(is_stripe, pa.scalar(_BANK_NAMES["stripe"]), pa.scalar(_BANK_NAMES["adyen"]))

    n_other = max(3, round(k * 0.15 / 0.85))
    t_idx = np.arange(n_other) % len(_TRAFFIC)
    mon = _MONTHS[start.month - 1] + f" {start.year}"
    prev_month = start.replace(day=1) - dt.timedelta(days=1)
    prev = f"{prev_month.month:02d}/{prev_month.year}"
    o_text, o_who, o_amount, o_day = [], [], [], []
    invoices = rng.integers(10_000, 99_999, n_other)
    rand_day = rng.integers(0, days, n_other)
    fractions = rng.random(n_other)
    for j, t in enumerate(t_idx.tolist()):
        who_t, text_t, lo, hi, sign, fixed_day = _TRAFFIC[t]
        o_who.append(who_t)
        o_text.append(text_t.format(mon=mon, prev=prev, inv=int(invoices[j])))
        value = lo + int((hi - lo) * float(fractions[j]))
        o_amount.append(sign * value)
        o_day.append(min(fixed_day, days - 1) if fixed_day >= 0 else int(rand_day[j]))

    all_amount = np.concatenate([amount, np.array(o_amount, dtype=np.int64)])
    all_day = np.concatenate([bday, np.array(o_day, dtype=np.int64)])
    all_text = pa.concat_arrays([text, pa.array(o_text, pa.string())])
    all_who = pa.concat_arrays([who, pa.array(o_who, pa.string())])
    payout_pos = np.concatenate([np.arange(k), np.full(n_other, -1)])
    sort = np.lexsort((np.arange(all_day.size), all_day))
    all_amount, all_day, payout_pos = all_amount[sort], all_day[sort], payout_pos[sort]
    all_text, all_who = all_text.take(pa.array(sort)), all_who.take(pa.array(sort))
    m = all_day.size
    first_of_day = np.r_[True, all_day[1:] != all_day[:-1]]
    starts = np.flatnonzero(first_of_day)
    seq = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m])) + 1
    yyyymmdd = pc.replace_substring(cal.iso_text(all_day), "-", "")
    bank_id = cat("BR", yyyymmdd, num(seq, 4))
    kind = np.where(all_amount >= 0, "bank_credit", "bank_debit").astype(object)
    raw = json_objects(
        [
            ("booking_date", cal.iso_text(all_day), True),
            ("value_date", cal.iso_text(all_day), True),
            ("amount", major(all_amount), True),
            ("currency", "EUR", True),
            ("counterparty", all_who, True),
            ("remittance_information", all_text, True),
            ("bank_reference", bank_id, True),
        ]
    )
    frame = pd.DataFrame(
        {
            "line_no": np.arange(1, m + 1, dtype=np.int64),
            "account": "bank",
            "external_id": series(bank_id),
            "booked_on": cal.date_objs(all_day),
            "value_on": cal.date_objs(all_day),
            "amount_minor": all_amount,
            "currency": "EUR",
            "kind": pd.Series(kind, dtype=object),
            "counterparty": series(all_who),
            "description": series(all_text),
            "raw": series(raw),
        }
    )
    has = payout_pos >= 0
    links = pd.DataFrame(
        {
            "payout_ref": series(refs.take(pa.array(payout_pos[has]))),
            "bank_id": series(bank_id.filter(pa.array(has))),
        }
    )
    created = cal.epoch0 + all_day * DAY
    return frame, created, links


# --------------------------------------------------------------------------------------------
# Loading into a database


def _sha(key: str, seed: int, orders: int) -> str:
    return hashlib.sha256(f"demo:{key}:{seed}:{orders}".encode()).hexdigest()


def has_records(session: Session) -> bool:
    """True when the database holds at least one record."""
    return session.scalar(select(Record.id).limit(1)) is not None


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
    wanted = _linked_ids(data)
    known: dict[tuple[str, str], int] = {}
    # One index rebuild for all four sources instead of one per batch (as ingest does per file).
    rows = sum(len(r.records) for r in data.results)
    big = rows >= DEFER_INDEXES_AT and rows >= row_count_estimate(session, "records")
    with deferred_indexes(session, ("records", "record_references"), enabled=big):
        for i, result in enumerate(data.results):
            key = next(iter(result.accounts))
            report(1 + i, f"Storing {result.accounts[key].name}")
            new_frame = _store_source(session, result, key, seed, orders, actor, summary)
            if new_frame is not None and wanted.get(key):
                hit = new_frame[new_frame["external_id"].isin(wanted[key])]
                known.update(
                    ((key, e), int(r)) for e, r in zip(hit["external_id"], hit["id"], strict=True)
                )
        report(steps - 2, "Building indexes")
    report(steps - 1, "Adding disputes")
    reason_codes.ensure_loaded(session)
    summary.disputes = _store_disputes(session, data, actor, known)
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


def _store_source(
    session: Session,
    result: ParseResult,
    key: str,
    seed: int,
    orders: int,
    actor: str,
    summary: DemoSummary,
) -> pd.DataFrame | None:
    """Store one source as batch `demo:<key>` unless that exact batch is there; new rows or None."""
    name = result.accounts[key].name or key
    file_name = f"demo:{key}"
    sha = _sha(key, seed, orders)
    previous = session.scalar(
        select(ImportBatch.id).where(ImportBatch.sha256 == sha, ImportBatch.status == "committed")
    )
    if previous is not None:
        summary.records[name] = 0
        summary.batches.append({"id": previous, "source": name, "file_name": file_name, "new": 0})
        return None
    stored = store(session, result, file_name=file_name, sha256=sha, actor=actor)
    summary.records[name] = stored.new
    summary.batches.append(
        {"id": stored.batch_id, "source": name, "file_name": file_name, "new": stored.new}
    )
    if stored.new_frame is None:
        return None
    for kind, count in stored.new_frame["kind"].value_counts().items():
        summary.kinds[str(kind)] = summary.kinds.get(str(kind), 0) + int(count)
    return stored.new_frame


def _linked_ids(data: DemoData) -> dict[str, set[str]]:
    """External ids of the records the disputes link to, by account key."""
    wanted: dict[str, set[str]] = {}
    for d in data.disputes:
        for link in d["links"]:
            wanted.setdefault(link["account"], set()).add(link["external_id"])
    return wanted


def _store_disputes(
    session: Session, data: DemoData, actor: str, known: dict[tuple[str, str], int]
) -> int:
    """Insert the demo disputes not yet present, with their links and a "created" event.

    `known` maps (account key, external id) to record ids of the lines just stored; ids of lines
    stored by an earlier run are looked up.
    """
    if not data.disputes:
        return 0
    present = session.execute(
        select(Dispute.psp, Dispute.psp_dispute_id).where(Dispute.psp.in_(["stripe", "adyen"]))
    )
    existing = {(psp, ref) for psp, ref in present}
    todo = [d for d in data.disputes if (d["psp"], d["psp_dispute_id"]) not in existing]
    if not todo:
        return 0
    record_id = dict(known)
    missing: dict[str, set[str]] = {}
    for d in todo:
        for link in d["links"]:
            if (link["account"], link["external_id"]) not in record_id:
                missing.setdefault(link["account"], set()).add(link["external_id"])
    accounts = {key: info for r in data.results for key, info in r.accounts.items()}
    for key, ids in missing.items():
        sid = session.scalar(select(Source.id).where(Source.name == accounts[key].name))
        values = sorted(ids)
        for i in range(0, len(values), 500):
            rows = session.execute(
                select(Record.id, Record.external_id)
                .where(Record.source_id == sid, Record.external_id.in_(values[i : i + 500]))
                .order_by(Record.id)
            )
            for rid, ext in rows:
                record_id[(key, str(ext))] = rid
    dispute_rows = []
    for d in todo:
        row = {k: v for k, v in d.items() if k != "links"}
        roles = {link["role"]: link for link in d["links"]}
        charge, order = roles.get("charge"), roles.get("order")
        row["charge_record_id"] = (
            record_id.get((charge["account"], charge["external_id"])) if charge else None
        )
        row["order_record_id"] = (
            record_id.get((order["account"], order["external_id"])) if order else None
        )
        row["created_at"] = row["updated_at"] = row["opened_at"]
        dispute_rows.append(row)
    new_ids = session.scalars(
        insert(Dispute).returning(Dispute.id, sort_by_parameter_order=True), dispute_rows
    ).all()
    events = []
    links = []
    for dispute_id, d in zip(new_ids, todo, strict=True):
        events.append(
            {
                "dispute_id": dispute_id,
                "at": d["opened_at"],
                "actor": actor,
                "kind": "created",
                "detail": {"status": d["status"], "stage": d["stage"], "source": "demo"},
            }
        )
        seen: set[int] = set()
        for link in d["links"]:
            target = record_id.get((link["account"], link["external_id"]))
            if target is not None and target not in seen:
                seen.add(target)
                links.append({"dispute_id": dispute_id, "record_id": target, "role": link["role"]})
    session.execute(insert(DisputeEvent), events)
    if links:
        session.execute(insert(DisputeLink), links)
    return len(todo)
