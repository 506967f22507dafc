"""Hand-made reconciliation fixtures: small ledgers, PSP reports and bank statements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.models import Record
from workstation.services.imports.ingest import store

LEDGER = AccountInfo(key="shop", kind="ledger", provider="shop", name="Shop orders")
STRIPE = AccountInfo(key="st", kind="psp", provider="stripe", name="Stripe EUR")
BANK = AccountInfo(
    key="bk",
    kind="bank",
    provider="bank",
    name="Main bank EUR",
    account_number="DE89370400440532013000",
)
ACCOUNTS = {"shop": LEDGER, "st": STRIPE, "bk": BANK}


def row(
    account: str, ext: str | None, amount: int, day: int, kind: str, **kw: Any
) -> dict[str, Any]:
    """One record line; `day` is the day of October 2026."""
    r: dict[str, Any] = {
        "line_no": 1,
        "account": account,
        "external_id": ext,
        "booked_on": dt.date(2026, 10, day),
        "amount_minor": amount,
        "currency": kw.pop("currency", "EUR"),
        "kind": kind,
    }
    r.update(kw)
    return r


def put(session: Session, rows: list[dict[str, Any]], name: str) -> None:
    """Store lines (all of one account) as one import batch."""
    account = rows[0]["account"]
    for i, r in enumerate(rows, 1):
        r["line_no"] = i
    result = ParseResult(
        format="test", accounts={account: ACCOUNTS[account]}, records=frame_from_rows(rows)
    )
    store(session, result, file_name=name, sha256=name, actor="tester")


def order(ext: str, amount: int, day: int, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ref_order", ext)
    return row("shop", ext, amount, day, "order", **kw)


def charge(ext: str, amount: int, day: int, **kw: Any) -> dict[str, Any]:
    """A PSP line (kind "charge" unless `kind` says otherwise)."""
    kind = kw.pop("kind", "charge")
    return row("st", ext, amount, day, kind, **kw)


def bank(ext: str, amount: int, day: int, text_: str, **kw: Any) -> dict[str, Any]:
    kind = "bank_credit" if amount >= 0 else "bank_debit"
    return row("bk", ext, amount, day, kind, description=text_, **kw)


def rid(session: Session, external_id: str) -> int:
    """Record id by external id."""
    return int(session.scalar(select(Record.id).where(Record.external_id == external_id)))


def state(session: Session, external_id: str) -> str:
    return str(session.scalar(select(Record.match_state).where(Record.external_id == external_id)))


def matches(session: Session) -> list[tuple[int, str, str, int, int, list[str]]]:
    """(id, status, rule, confidence, difference, sorted member external ids) of every match."""
    rows = session.execute(
        text(
            "SELECT m.id, m.status, m.rule, m.confidence, m.difference_minor, r.external_id"
            " FROM matches m JOIN match_members mm ON mm.match_id = m.id"
            " JOIN records r ON r.id = mm.record_id ORDER BY m.id, r.external_id"
        )
    ).all()
    out: dict[int, tuple[int, str, str, int, int, list[str]]] = {}
    for mid, status, rule, conf, diff, ext in rows:
        out.setdefault(mid, (mid, status, rule, conf, diff, []))[5].append(ext)
    return list(out.values())


def match_of(
    session: Session, *external_ids: str
) -> tuple[int, str, str, int, int, list[str]] | None:
    """The match whose members are exactly these external ids."""
    want = sorted(external_ids)
    for m in matches(session):
        if m[5] == want:
            return m
    return None
