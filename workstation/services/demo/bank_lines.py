"""Bank lines of the demo month: one credit per PSP payout, the day after it, and unrelated traffic.

About 5 % of the payout credits carry no id in their text (only amount and date can find them);
the traffic (rent, salaries, suppliers, fees, interest) must stay unmatched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import DAY, Calendar, cat, json_objects, major, num, series
from .vocabulary import BANK_NAMES, MONTHS, TRAFFIC


def bank_frame(
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
    who = pc.if_else(is_stripe, pa.scalar(BANK_NAMES["stripe"]), pa.scalar(BANK_NAMES["adyen"]))

    n_other = max(3, round(k * 0.15 / 0.85))
    t_idx = np.arange(n_other) % len(TRAFFIC)
    mon = MONTHS[start.month - 1] + f" {start.year}"
    prev_month = start.replace(day=1) - dt.timedelta(days=1)
    prev = f"{prev_month.month:02d}/{prev_month.year}"
    o_text, o_who, o_amount, o_day = [], [], [], []
    invoices = rng.integers(10_000, 99_999, n_other)
    rand_day = rng.integers(0, days, n_other)
    fractions = rng.random(n_other)
    for j, t in enumerate(t_idx.tolist()):
        who_t, text_t, lo, hi, sign, fixed_day = TRAFFIC[t]
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
