"""PSP lines of the demo month: charges and refunds per provider, daily payouts and the frames.

Stripe (1.4 % + 0.25, UK cards 3.25 %) and Adyen (1.2 % + 0.13) settle the paid orders; lines are
gathered per provider in `PspLines`, grouped into daily payouts by `psp_frame` (a day that nets to
<= 0 rolls into the next payout) and laid out as record frames with the raw report fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import (
    DAY,
    Calendar,
    Strs,
    adyen_refs,
    cat,
    json_objects,
    lookup,
    major,
    num,
    series,
    stripe_ids,
)
from .vocabulary import BRAND_P, BRANDS

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


@dataclass
class PspLines:
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


def fees(provider: str, amount: np.ndarray, gbp: np.ndarray) -> np.ndarray:
    """PSP fee in cents, half up: Stripe 1.4 % + 0.25 (UK cards 3.25 %), Adyen 1.2 % + 0.13."""
    if provider == "stripe":
        domestic = (amount * 14 + 500) // 1000 + 25
        foreign = (amount * 325 + 5000) // 10000 + 25
        return np.where(gbp, foreign, domestic)
    return (amount * 12 + 500) // 1000 + 13


def charges_and_refunds(
    rng: np.random.Generator,
    cal: Calendar,
    o_psp: np.ndarray,
    o_created: np.ndarray,
    o_gbp: np.ndarray,
    o_amount: np.ndarray,
    order_no: np.ndarray,
    order_id: Strs,
) -> tuple[dict[str, PspLines], dict[str, dict[str, Any]], list[int]]:
    """The charge of every paid order (`o_psp` 1 Stripe, 2 Adyen) and refunds of ~2 % of them.

    Returns the lines per provider, per provider the charges' columns (the disputes are drawn
    from them) and the state of the Adyen reference counter.
    """
    fx_micro = 1_150_000 + rng.integers(-15_000, 15_000, cal.dates.size)
    adyen_state = [881_500_000_000_000 + int(rng.integers(0, 10**12))]
    lines = {"stripe": PspLines(), "adyen": PspLines()}
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
        fee = fees(provider, amount, gbp)
        ref_order = order_variants(rng, order_no[idx], order_id.take(pa.array(idx)))
        brand = rng.choice(4, size=m, p=BRAND_P)
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

    return lines, charges, adyen_state


def order_variants(rng: np.random.Generator, numbers: np.ndarray, exact: Strs) -> Strs:
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


def psp_frame(
    rng: np.random.Generator,
    cal: Calendar,
    provider: str,
    lines: PspLines,
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
                for col, values, quoted in stripe_report_fields(
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
        brand = lookup(BRANDS, rng.choice(4, size=m, p=BRAND_P))
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


def stripe_report_fields(
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


def _sparse(values: np.ndarray, present: np.ndarray) -> pd.Series:
    """Object column: Python values where `present`, else None (no NaN, no float)."""
    out = np.full(values.size, None, dtype=object)
    out[present] = values[present].tolist()
    return pd.Series(out, dtype=object)
