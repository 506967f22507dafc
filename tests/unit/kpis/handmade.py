"""A small hand-made store for the KPI tests: every expected number can be worked out by hand.

Sources: Shop (ledger), Stripe EUR and Adyen EUR (PSP), Bank EUR (bank). February holds two
Mastercard charges (the ECP prior month); March holds everything else. See each test for the
arithmetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from workstation.db import Database
from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.models import Dispute, ExceptionCase, Match, MatchMember, Record, User
from workstation.services.imports.ingest import store

UTC = dt.UTC
D = dt.date


def rec(
    ext: str,
    day: dt.date,
    amount: int,
    kind: str,
    *,
    fee: int | None = None,
    payout: str | None = None,
    raw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "external_id": ext,
        "booked_on": day,
        "amount_minor": amount,
        "currency": "EUR",
        "kind": kind,
        "fee_minor": fee,
        "net_minor": None if fee is None else amount - fee,
        "payout_ref": payout,
        "raw": raw or {"id": ext},
    }


SHOP = [
    rec("ORD-1", D(2026, 3, 2), 10000, "order"),
    rec("ORD-2", D(2026, 3, 2), 20000, "order"),
    rec("ORD-3", D(2026, 3, 3), 5000, "order"),
    rec("ORD-4", D(2026, 3, 20), 7000, "order"),
    rec("ORD-5", D(2026, 3, 29), 1000, "order"),
    rec("ORD-6", D(2026, 3, 10), 3000, "order"),
]
STRIPE = [
    rec("ch_1", D(2026, 3, 2), 10000, "charge", fee=300, payout="po_A", raw={"card_brand": "visa"}),
    rec("ch_2", D(2026, 3, 2), 20000, "charge", fee=500, payout="po_A", raw={"card_brand": "Visa"}),
    rec(
        "ch_3",
        D(2026, 3, 3),
        5000,
        "charge",
        fee=200,
        payout="po_B",
        raw={"card_brand": "mastercard"},
    ),
    rec("fee_1", D(2026, 3, 4), -1000, "fee"),
    rec("po_A", D(2026, 3, 4), -29200, "payout", payout="po_A"),
    rec("po_B", D(2026, 3, 6), -4800, "payout", payout="po_B"),
]
ADYEN = [
    rec(
        "ad_4", D(2026, 2, 10), 40000, "charge", fee=400, payout="B1", raw={"Payment Method": "mc"}
    ),
    rec(
        "ad_5", D(2026, 2, 11), 60000, "charge", fee=600, payout="B1", raw={"Payment Method": "mc"}
    ),
    rec(
        "ad_6", D(2026, 3, 5), 30000, "charge", fee=900, payout="B2", raw={"Payment Method": "visa"}
    ),
    rec("ad_r", D(2026, 3, 6), -5000, "refund", fee=0, payout="B2", raw={"Payment Method": "visa"}),
]
BANK = [
    rec("BK-A", D(2026, 3, 5), 29200, "bank_credit"),
    rec("BK-B", D(2026, 3, 9), 4800, "bank_credit"),
    rec("BK-RENT", D(2026, 3, 1), -100000, "bank_debit"),
]
STATES = {
    "matched": [
        "ORD-1",
        "ORD-2",
        "ORD-3",
        "ch_1",
        "ch_2",
        "ch_3",
        "po_A",
        "po_B",
        "ad_4",
        "ad_5",
        "BK-A",
        "BK-B",
    ],
    "written_off": ["fee_1"],
    "unmatched": ["ORD-4", "ad_6", "BK-RENT"],
    "suggested": ["ORD-5", "ad_r"],
    "ignored": ["ORD-6"],
}


def _store(s: Any, key: str, kind: str, provider: str | None, name: str, rows: list) -> int:
    frame = frame_from_rows(
        [{"line_no": i, "account": key, **r} for i, r in enumerate(rows, start=1)]
    )
    result = ParseResult("test", {key: AccountInfo(key, kind, provider, name)}, frame)
    out = store(s, result, file_name=f"{key}.csv", sha256=f"sha-{key}", actor="tester")
    assert out.new == len(rows)
    assert out.batch_id is not None
    return out.batch_id


def _ts(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=UTC)


def dispute(
    pid: str, psp: str, network: str, stage: str, status: str, amount: int, **kw: Any
) -> Dispute:
    return Dispute(
        psp=psp,
        psp_dispute_id=pid,
        network=network,
        stage=stage,
        status=status,
        amount_minor=amount,
        currency="EUR",
        **kw,
    )


def build(db: Database) -> dict[str, int]:
    """Write the hand-made store; returns batch ids by source key."""
    with db.session() as s:
        batches = {
            "shop": _store(s, "shop", "ledger", None, "Shop", SHOP),
            "stripe": _store(s, "stripe", "psp", "stripe", "Stripe EUR", STRIPE),
            "adyen": _store(s, "adyen", "psp", "adyen", "Adyen EUR", ADYEN),
            "bank": _store(s, "bank", "bank", "bank", "Bank EUR", BANK),
        }
    with db.session() as s:
        for state, ids in STATES.items():
            s.execute(update(Record).where(Record.external_id.in_(ids)).values(match_state=state))
        rid = {e: i for e, i in s.execute(select(Record.external_id, Record.id))}
        # payout A: the bank credit and the payout line (auto); payout B: the bank credit and one
        # of its charges (confirmed); a suggested match is never used for settlement lag.
        for status, members in (
            ("auto", [("BK-A", "bank", 29200), ("po_A", "psp", -29200)]),
            ("confirmed", [("BK-B", "bank", 4800), ("ch_3", "psp", 5000)]),
            ("suggested", [("BK-RENT", "bank", -100000), ("po_B", "psp", -4800)]),
        ):
            m = Match(status=status, rule="test", confidence=90, currency="EUR", created_by="t")
            m.members = [
                MatchMember(record_id=rid[e], side=side, amount_minor=a) for e, side, a in members
            ]
            s.add(m)
        alice = User(login="alice", display_name="Alice", role="agent")
        bob = User(login="bob", display_name="Bob", role="agent")
        s.add_all([alice, bob])
        s.flush()
        s.add_all(
            [
                dispute(
                    "d1",
                    "stripe",
                    "visa",
                    "chargeback",
                    "won",
                    10000,
                    reason_category="fraud",
                    reason_code="10.4",
                    opened_at=_ts(2026, 3, 10),
                ),
                dispute(
                    "d2",
                    "stripe",
                    "Visa",
                    "inquiry",
                    "needs_response",
                    2000,
                    reason_category="fraud",
                    opened_at=_ts(2026, 3, 11),
                    due_by=_ts(2026, 3, 22, 12),
                ),
                dispute(
                    "d3",
                    "stripe",
                    "visa",
                    "chargeback",
                    "lost",
                    4000,
                    reason_category="fraud",
                    psp_reason="NOTIFICATION_OF_FRAUD",
                    opened_at=_ts(2026, 3, 12),
                ),
                dispute(
                    "d4",
                    "stripe",
                    "visa",
                    "inquiry",
                    "under_review",
                    3000,
                    reason_category="consumer_dispute",
                    opened_at=_ts(2026, 3, 13),
                    due_by=_ts(2026, 3, 21),
                ),
                dispute(
                    "d5",
                    "stripe",
                    "Visa",
                    "chargeback",
                    "won",
                    7000,
                    reason_category="consumer_dispute",
                    opened_at=_ts(2026, 2, 20),
                ),
                dispute(
                    "d6",
                    "adyen",
                    "Mastercard",
                    "chargeback",
                    "lost",
                    5000,
                    reason_category="fraud",
                    reason_code="4837",
                    opened_at=_ts(2026, 3, 15),
                ),
                dispute(
                    "d7",
                    "adyen",
                    "mc",
                    "chargeback",
                    "won",
                    2500,
                    reason_category="cardholder_dispute",
                    reason_code="4853",
                    opened_at=_ts(2026, 3, 16),
                ),
                dispute(
                    "d8",
                    "adyen",
                    "mastercard",
                    "inquiry",
                    "accepted",
                    1500,
                    reason_category="cardholder_dispute",
                    opened_at=_ts(2026, 3, 17),
                ),
                dispute(
                    "d9",
                    "adyen",
                    "Amex",
                    "chargeback",
                    "expired",
                    800,
                    reason_category="card_member_dispute",
                    opened_at=_ts(2026, 3, 18),
                ),
                # opened in January: only the due-date list sees them
                dispute(
                    "d10",
                    "stripe",
                    "visa",
                    "chargeback",
                    "needs_response",
                    900,
                    opened_at=_ts(2026, 1, 5),
                    due_by=_ts(2026, 3, 27, 11, 59),
                    assignee_id=alice.id,
                ),
                dispute(
                    "d11",
                    "stripe",
                    "visa",
                    "chargeback",
                    "needs_response",
                    700,
                    opened_at=_ts(2026, 1, 5),
                    due_by=_ts(2026, 3, 27, 12),
                ),
                dispute(
                    "d12",
                    "stripe",
                    "visa",
                    "chargeback",
                    "needs_response",
                    600,
                    opened_at=_ts(2026, 1, 5),
                    due_by=_ts(2026, 3, 20, 11),
                ),
            ]
        )
        s.add_all(
            [
                ExceptionCase(
                    status="resolved",
                    assignee_id=alice.id,
                    currency="EUR",
                    resolved_at=_ts(2026, 3, 5),
                    reopen_count=0,
                ),
                ExceptionCase(
                    status="resolved",
                    assignee_id=alice.id,
                    currency="EUR",
                    resolved_at=_ts(2026, 3, 31, 23, 59),
                    reopen_count=1,
                ),
                ExceptionCase(
                    status="resolved",
                    assignee_id=bob.id,
                    currency="EUR",
                    resolved_at=_ts(2026, 3, 10),
                    reopen_count=0,
                ),
                ExceptionCase(
                    status="resolved",
                    assignee_id=None,
                    currency="EUR",
                    resolved_at=_ts(2026, 3, 11),
                    reopen_count=0,
                ),
                ExceptionCase(
                    status="resolved",
                    assignee_id=alice.id,
                    currency="EUR",
                    resolved_at=_ts(2026, 4, 1, 0),
                    reopen_count=0,
                ),
                ExceptionCase(status="open", assignee_id=bob.id, currency="EUR"),
                ExceptionCase(
                    status="open",
                    assignee_id=bob.id,
                    currency="EUR",
                    resolved_at=_ts(2026, 3, 12),
                    reopen_count=1,
                ),
            ]
        )
    return batches


MARCH = (D(2026, 3, 1), D(2026, 3, 31))
