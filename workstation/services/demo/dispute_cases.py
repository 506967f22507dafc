"""Disputes of the demo month: ~0.6 % of the charges, and their money trail as PSP lines.

The cases carry real network/reason-code pairs; a chargeback withdraws the amount and books a
-15.00 fee, a won case reinstates the amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..disputes import reason_codes
from .columns import DAY, Calendar, Strs, adyen_refs, cat, stripe_ids
from .psp_lines import PspLines
from .vocabulary import BRANDS, DEMO_CODES, ITEM_TEXT, NETWORKS

DISPUTE_FEE_MINOR = 1500


def _demo_code_table() -> dict[str, list[tuple[dict[str, Any], int]]]:
    rows = {(r["network"], r["code"]): r for r in reason_codes.read_csv()}
    table: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for network, codes in DEMO_CODES.items():
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


def draw_disputes(
    rng: np.random.Generator,
    cal: Calendar,
    charges: dict[str, dict[str, Any]],
    lines: dict[str, PspLines],
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
        network = NETWORKS[int(c["brand"][ci])]
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
                        "brand": BRANDS[int(c["brand"][ci])],
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
                    "chargebackSchemeCode": BRANDS[int(c["brand"][ci])],
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
                "product_description": ITEM_TEXT[int(items[oi])],
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
