"""Card-scheme monitoring ratios: Visa VAMP and Mastercard ECP (with EFM indicators) per month.

Scheme monitoring follows ../shared/reference/formats_and_disputes.md, Part B4:
- Visa VAMP (per month): (TC40 fraud reports + TC15 disputes) / settled Visa CNP transactions of
  the same month. Excessive at >= 2.2 % for months before 2026-04-01 and >= 1.5 % from then, and
  only when the count is > 1,500.
- Mastercard ECP: chargebacks in month N / Mastercard transactions in month N-1. HECM at >= 300
  chargebacks and >= 3.0 %; ECM at >= 100 chargebacks and >= 1.5 % (that is the 100-299 band,
  plus merchants above 300 whose ratio is below the HECM 3 %).

How our data maps onto the scheme messages (documented choices):
- TC15 dispute / Mastercard chargeback: a dispute row whose stage is not `inquiry` (one row per
  case; pre-arbitration and arbitration are later stages of the same case and count once).
- TC40 fraud report: a dispute row whose `psp_reason` is Adyen's `NOTIFICATION_OF_FRAUD`, or an
  inquiry (retrieval / Stripe early warning) in the `fraud` reason category. A fraud report and
  a dispute on the same charge both count, as the VAMP formula says.
- The month of a dispute is the month it was opened (`opened_at`, else `created_at`), in UTC.
- Settled transactions: PSP records of kind `charge` booked in the month whose payment method
  (raw `card_brand` / `Payment Method` / ...) names the network; charges without a reported
  method cannot be attributed and are not counted (see `transactions_unattributed`). PSP card
  traffic is taken as card-not-present.
- Not modelled: RDR / Order Insight exclusions, CE 3.0 TC40 exclusions, the 3-D Secure share of
  EFM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeVar

import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ...models import Dispute
from .cache import cached
from .measures import main_currency, map_unique, ratio, sum_where, text_or_none
from .networks import normalise_network
from .periods import add_months, day_bounds, month_end, month_start, months
from .reading import Threshold
from .rollups import query_frame, rollup_frame

VAMP_CHANGE_DATE = dt.date(2026, 4, 1)
VAMP_THRESHOLD_BEFORE = Decimal("0.022")
VAMP_THRESHOLD_FROM_CHANGE = Decimal("0.015")
VAMP_MIN_COUNT = 1500  # the program applies only when fraud + disputes exceed this
ECM_MIN_COUNT = 100
ECM_RATIO = Decimal("0.015")
HECM_MIN_COUNT = 300
HECM_RATIO = Decimal("0.03")
EFM_MIN_PRIOR_TRANSACTIONS = 1000
EFM_MIN_FRAUD_USD_MINOR = 5_000_000  # USD 50,000.00
EFM_FRAUD_RATIO = Decimal("0.005")
MC_FRAUD_CODES = ("4837", "4863")
FRAUD_REPORT_REASON = "NOTIFICATION_OF_FRAUD"
_BPS = Decimal(10_000)
R = TypeVar("R")

VAMP_EXCESSIVE = Threshold(
    "VAMP excessive",
    VAMP_THRESHOLD_BEFORE,
    VAMP_MIN_COUNT,
    above=True,
    changes=((VAMP_CHANGE_DATE, VAMP_THRESHOLD_FROM_CHANGE),),
)
ECM = Threshold("ECM", ECM_RATIO, ECM_MIN_COUNT)
HECM = Threshold("HECM", HECM_RATIO, HECM_MIN_COUNT)


def vamp_threshold(month: dt.date) -> Decimal:
    """Visa VAMP merchant "excessive" ratio for a month: 2.2 %, 1.5 % from 2026-04-01."""
    return VAMP_EXCESSIVE.at(month)


@dataclass(frozen=True)
class VampAssessment:
    """VAMP arithmetic of one month."""

    count: int
    ratio: Decimal | None
    threshold: Decimal
    applies: bool  # count > 1,500
    excessive: bool


def assess_vamp(month: dt.date, fraud_reports: int, disputes: int, settled: int) -> VampAssessment:
    """VAMP ratio = (TC40 + TC15) / settled CNP transactions of the same month, and the verdict."""
    count = fraud_reports + disputes
    r = ratio(count, settled)
    threshold = vamp_threshold(month)
    applies = VAMP_EXCESSIVE.applies(count)
    return VampAssessment(
        count, r, threshold, applies, applies and r is not None and r >= threshold
    )


@dataclass(frozen=True)
class EcpAssessment:
    """Mastercard ECP arithmetic of one month."""

    ratio: Decimal | None
    basis_points: Decimal | None
    level: str | None  # "HECM", "ECM" or None


def assess_ecp(chargebacks: int, prior_month_transactions: int) -> EcpAssessment:
    """ECP ratio = chargebacks in month N / transactions in month N-1, and the program level."""
    r = ratio(chargebacks, prior_month_transactions)
    level = None
    if r is not None:
        level = next((t.name for t in (HECM, ECM) if t.applies(chargebacks) and r >= t.ratio), None)
    return EcpAssessment(r, None if r is None else r * _BPS, level)


@dataclass(frozen=True)
class VampMonth:
    """Visa VAMP for one month (counts, and amounts in `amount_currency`)."""

    month: dt.date
    fraud_reports: int
    disputes: int
    count: int
    settled: int
    ratio: Decimal | None
    threshold: Decimal
    applies: bool
    excessive: bool
    amount_currency: str | None
    disputed_minor: int
    settled_minor: int
    amount_ratio: Decimal | None
    transactions_unattributed: int  # PSP charges of the month with no reported network


@dataclass(frozen=True)
class EcpMonth:
    """Mastercard ECP (and EFM indicators) for one month."""

    month: dt.date
    chargebacks: int
    prior_month: dt.date
    prior_transactions: int
    ratio: Decimal | None
    basis_points: Decimal | None
    level: str | None
    amount_currency: str | None
    chargeback_minor: int
    prior_minor: int
    amount_ratio: Decimal | None
    fraud_chargebacks: int
    fraud_minor: int
    fraud_amount_ratio: Decimal | None
    efm_candidate: bool | None  # None: amounts are not in USD, the $50,000 test cannot be made
    transactions_unattributed: int


@dataclass
class SchemeData:
    """Inputs of the scheme ratios, per month: disputes by class and charges by network."""

    disputes: pd.DataFrame  # month, network, cls (tc40|tc15|inquiry), fraud, currency, n, minor
    charges: pd.DataFrame  # month, network, currency, n, minor
    amount_currency: str | None
    unattributed: dict[dt.date, int] = field(default_factory=dict)


def dispute_class(stage: str | None, psp_reason: str | None, category: str | None) -> str:
    """tc40 (fraud report), tc15 (dispute / chargeback) or inquiry — see the module docstring."""
    if (psp_reason or "").strip().upper() == FRAUD_REPORT_REASON:
        return "tc40"
    if (stage or "") == "inquiry":
        return "tc40" if (category or "").lower() == "fraud" else "inquiry"
    return "tc15"


@cached("scheme_data")
def scheme_data(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    psps: Collection[str] | None,
    currency: str | None,
) -> SchemeData:
    """Disputes by month, network and class, and card charges by month and network (computed
    once for VAMP and ECP of the same months)."""
    month_list = months(date_from, date_to)
    lo, hi = day_bounds(month_list[0], month_end(date_to))
    opened = func.coalesce(Dispute.opened_at, Dispute.created_at)
    # Month, class and fraud flag are computed by the database, which returns a handful of
    # groups instead of every dispute (the same rules as `dispute_class`, in SQL).
    month_idx = case(
        *[(opened < day_bounds(m, month_end(m))[1], i) for i, m in enumerate(month_list)],
        else_=len(month_list) - 1,
    )
    category = func.lower(func.coalesce(Dispute.reason_category, ""))
    cls = case(
        (func.upper(func.coalesce(Dispute.psp_reason, "")) == FRAUD_REPORT_REASON, "tc40"),
        (and_(Dispute.stage == "inquiry", category == "fraud"), "tc40"),
        (Dispute.stage == "inquiry", "inquiry"),
        else_="tc15",
    )
    fraud = case((or_(category == "fraud", Dispute.reason_code.in_(MC_FRAUD_CODES)), 1), else_=0)
    keys = (month_idx, Dispute.network, cls, fraud, Dispute.currency)
    q = (
        select(*keys, func.count(), func.sum(Dispute.amount_minor))
        .where(opened >= lo, opened < hi)
        .group_by(*keys)
    )
    if psps:
        q = q.where(func.lower(Dispute.psp).in_([p.lower() for p in psps]))
    cols = ["month", "network", "cls", "fraud", "currency", "n", "minor"]
    d = query_frame(session, q, cols)
    if len(d):
        d["month"] = [month_list[int(i)] for i in d["month"]]
        d["network"] = map_unique(d["network"], lambda v: normalise_network(text_or_none(v)))
        d["fraud"] = d["fraud"].astype(bool)
        d["n"] = d["n"].astype("int64")
        d["minor"] = d["minor"].astype("int64")
        d = d.groupby(cols[:5], as_index=False, dropna=False)[["n", "minor"]].sum()
    roll = rollup_frame(session, add_months(date_from, -1), month_end(date_to), None, psps)
    unattributed: dict[dt.date, int] = {}
    if len(roll):
        roll = roll[(roll["kind"] == "charge") & (roll["source_kind"] == "psp")].copy()
        roll["month"] = [month_start(v) for v in roll["booked_on"]]
        roll["network"] = [normalise_network(text_or_none(m)) for m in roll["method"]]
        unknown = roll[roll["network"].isna()]
        unattributed = {k: int(v) for k, v in unknown.groupby("month")["n"].sum().items()}
        c = (
            roll[roll["network"].notna()]
            .groupby(["month", "network", "currency"], as_index=False)
            .agg(n=("n", "sum"), minor=("amount_minor", "sum"))
        )
    else:
        c = pd.DataFrame(columns=["month", "network", "currency", "n", "minor"])
    if currency is None and len(c):
        currency = main_currency(c, "n")
    elif currency is None and len(d):
        currency = str(d["currency"].mode().sort_values().iloc[0])
    return SchemeData(d, c, currency, unattributed)


class MonthlyRatio(Protocol[R]):
    """A scheme ratio per month of [date_from, date_to] (amounts in `currency`, default: the
    currency of most card charges in the window; other currencies are left out)."""

    def __call__(
        self,
        session: Session,
        /,
        date_from: dt.date,
        date_to: dt.date,
        *,
        psps: Collection[str] | None = None,
        currency: str | None = None,
    ) -> list[R]: ...


def per_month(name: str) -> Callable[[Callable[[SchemeData, dt.date], R]], MonthlyRatio[R]]:
    """The cached ratio per month of a period from `one_month(scheme data, month)`."""

    def wrap(one_month: Callable[[SchemeData, dt.date], R]) -> MonthlyRatio[R]:
        @cached(name)
        def ratio_per_month(
            session: Session,
            date_from: dt.date,
            date_to: dt.date,
            *,
            psps: Collection[str] | None = None,
            currency: str | None = None,
        ) -> list[R]:
            data = scheme_data(session, date_from, date_to, psps, currency)
            return [one_month(data, m) for m in months(date_from, date_to)]

        ratio_per_month.__doc__ = one_month.__doc__
        return ratio_per_month

    return wrap


@per_month("vamp")
def vamp(data: SchemeData, m: dt.date) -> VampMonth:
    """Visa VAMP per month of [date_from, date_to] (see the module docstring for the mapping)."""
    d, c, cur = data.disputes, data.charges, data.amount_currency
    visa = {"month": m, "network": "visa"}
    tc40 = sum_where(d, "n", cls="tc40", **visa)
    tc15 = sum_where(d, "n", cls="tc15", **visa)
    settled = sum_where(c, "n", **visa)
    a = assess_vamp(m, tc40, tc15, settled)
    disputed_minor = sum(
        sum_where(d, "minor", cls=k, currency=cur, **visa) for k in ("tc40", "tc15")
    )
    settled_minor = sum_where(c, "minor", currency=cur, **visa)
    return VampMonth(
        month=m,
        fraud_reports=tc40,
        disputes=tc15,
        settled=settled,
        **vars(a),
        amount_currency=cur,
        disputed_minor=disputed_minor,
        settled_minor=settled_minor,
        amount_ratio=ratio(disputed_minor, settled_minor),
        transactions_unattributed=data.unattributed.get(m, 0),
    )


@per_month("ecp")
def ecp(data: SchemeData, m: dt.date) -> EcpMonth:
    """Mastercard ECP per month of [date_from, date_to], with the prior-month denominator.

    EFM indicators: fraud chargebacks (category fraud or 4837/4863), their amount and the
    fraud-to-sales amount ratio against the prior month; `efm_candidate` is True when the prior
    month had >= 1,000 transactions, fraud chargebacks reach USD 50,000 and the amount ratio is
    >= 0.50 % (the 3-D Secure share, also an EFM criterion, is not known here).
    """
    d, c, cur = data.disputes, data.charges, data.amount_currency
    # Chargebacks only: inquiries and fraud notifications are not chargebacks.
    mc = d[(d["network"] == "mastercard") & (d["cls"] == "tc15")] if len(d) else d
    fraud = mc[mc["fraud"].astype(bool)] if len(mc) else mc
    prior = add_months(m, -1)
    cbs = sum_where(mc, "n", month=m)
    prior_tx = sum_where(c, "n", month=prior, network="mastercard")
    a = assess_ecp(cbs, prior_tx)
    cb_minor = sum_where(mc, "minor", month=m, currency=cur)
    prior_minor = sum_where(c, "minor", month=prior, network="mastercard", currency=cur)
    fraud_minor = sum_where(fraud, "minor", month=m, currency=cur)
    fraud_ratio = ratio(fraud_minor, prior_minor)
    efm: bool | None = None
    if cur == "USD":
        efm = (
            prior_tx >= EFM_MIN_PRIOR_TRANSACTIONS
            and fraud_minor >= EFM_MIN_FRAUD_USD_MINOR
            and fraud_ratio is not None
            and fraud_ratio >= EFM_FRAUD_RATIO
        )
    return EcpMonth(
        month=m,
        chargebacks=cbs,
        prior_month=prior,
        prior_transactions=prior_tx,
        **vars(a),
        amount_currency=cur,
        chargeback_minor=cb_minor,
        prior_minor=prior_minor,
        amount_ratio=ratio(cb_minor, prior_minor),
        fraud_chargebacks=sum_where(fraud, "n", month=m),
        fraud_minor=fraud_minor,
        fraud_amount_ratio=fraud_ratio,
        efm_candidate=efm,
        transactions_unattributed=data.unattributed.get(prior, 0),
    )


def vamp_frame(rows: list[VampMonth]) -> pd.DataFrame:
    """`vamp` result as a DataFrame (one row per month, the dataclass fields as columns)."""
    return pd.DataFrame([r.__dict__ for r in rows])


def ecp_frame(rows: list[EcpMonth]) -> pd.DataFrame:
    """`ecp` result as a DataFrame (one row per month, the dataclass fields as columns)."""
    return pd.DataFrame([r.__dict__ for r in rows])
