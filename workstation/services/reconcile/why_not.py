"""Why not: for one record, rank likely counterparts and say which condition failed, by how much.

Candidates are records sharing a reference token with it plus open records of the other sides with
a close amount in a wide date range. Each candidate is checked against the stored rules' conditions
(reference, currency, direction, amount tolerance, date window, already matched, rejected) and
gets texts such as "amount off by 0.35 = 1.2 % > 1 %" or "date +5 d > 4 d window".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ...errors import UserError
from ...money import format_minor
from .rules import RuleSpec, load_rules
from .working_set import SIDE_OF_SOURCE_KIND, TRANSFER_KINDS

_RANK = {"order": 0, "psp": 1, "bank": 2, "other": 3}
_PARTNERS = {"order": ("psp", "bank"), "psp": ("order", "bank"), "bank": ("psp", "order")}
_SOURCE_KINDS = {"order": "ledger", "psp": "psp", "bank": "bank", "other": "other"}


@dataclass(frozen=True)
class Check:
    """One condition: passed or failed, in words."""

    name: str
    ok: bool
    text: str


@dataclass
class Candidate:
    """A possible counterpart of the explained record and how it fares against the rules."""

    record_id: int
    source: str
    side: str
    kind: str
    external_id: str | None
    booked_on: dt.date
    amount_minor: int
    currency: str
    state: str
    match_id: int | None
    score: int = 0
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def summary(self) -> str:
        """The failed conditions ("; "-joined), or what matched when nothing failed."""
        bad = self.failed
        return "; ".join(c.text for c in (bad or self.checks))


@dataclass
class Explanation:
    """The explained record and its ranked candidates."""

    record: dict[str, Any]
    candidates: list[Candidate]


def _pct_text(ppm: int) -> str:
    d = (Decimal(ppm) / Decimal(10000)).normalize()
    return f"{d:f} %"


def _ratio_text(diff: int, base: int) -> str:
    if base == 0:
        return "n/a"
    pct = (Decimal(abs(diff)) * 100 / Decimal(abs(base))).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{pct} %"


def _window_rule(rules: list[RuleSpec]) -> RuleSpec:
    for r in rules:
        if r.kind == "window" and r.enabled:
            return r
    return RuleSpec(name="window", kind="window", params={"days_before": 1, "days_after": 4})


_RECORD_SQL = (
    "SELECT r.id, s.name, s.kind, r.kind, r.external_id, CAST(r.booked_on AS TEXT),"
    " r.amount_minor, r.currency, r.match_state, COALESCE(r.fee_minor, 0),"
    " COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0)),"
    " (SELECT MIN(mm.match_id) FROM match_members mm JOIN matches m ON m.id = mm.match_id"
    "  WHERE mm.record_id = r.id AND m.status IN ('auto', 'confirmed', 'suggested'))"
    " FROM records r JOIN sources s ON s.id = r.source_id"
)


def _rows(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    chunk = ",".join(str(int(i)) for i in ids)
    out = {}
    for row in session.execute(text(f"{_RECORD_SQL} WHERE r.id IN ({chunk})")):
        rid, src, skind, kind, ext, booked, amt, cur, state, fee, net, mid = row
        out[int(rid)] = {
            "id": int(rid),
            "source": src,
            "side": SIDE_OF_SOURCE_KIND.get(skind, "other"),
            "kind": kind,
            "external_id": ext,
            "booked_on": dt.date.fromisoformat(str(booked)[:10]),
            "amount_minor": int(amt),
            "currency": cur,
            "state": state,
            "fee": int(fee),
            "net": int(net),
            "match_id": None if mid is None else int(mid),
        }
    return out


def _camt(rec: dict[str, Any]) -> int:
    return -rec["amount_minor"] if rec["kind"] in TRANSFER_KINDS else rec["amount_minor"]


def why_not(
    session: Session, record_id: int, *, limit: int = 10, rules: list[RuleSpec] | None = None
) -> Explanation:
    """Rank the likely counterparts of `record_id` with the conditions each one fails."""
    me = _rows(session, [record_id]).get(int(record_id))
    if me is None:
        raise UserError(f"no record {record_id}")
    rules = rules if rules is not None else load_rules(session)
    win = _window_rule(rules)
    abs_tol, ppm = win.tolerance()
    before, after = int(win.get("days_before", 1)), int(win.get("days_after", 4))
    shared: dict[int, list[str]] = {}
    for rid, value in session.execute(
        text(
            "SELECT y.record_id, y.value FROM record_references x"
            " JOIN record_references y ON y.value = x.value AND y.record_id <> x.record_id"
            " WHERE x.record_id = :id LIMIT 500"
        ),
        {"id": int(record_id)},
    ):
        shared.setdefault(int(rid), []).append(str(value))
    partners = _PARTNERS.get(me["side"], ("order", "psp", "bank"))
    kinds = ",".join(f"'{_SOURCE_KINDS[p]}'" for p in partners)
    span = max(before, after) * 2 + 3
    amt = abs(_camt(me))
    slack = max(amt // 20, 2 * abs_tol, 100, amt * ppm // 500_000)
    near = [
        int(r)
        for (r,) in session.execute(
            text(
                "SELECT r.id FROM records r JOIN sources s ON s.id = r.source_id"
                " WHERE r.match_state IN ('unmatched', 'suggested', 'matched')"
                " AND r.booked_on BETWEEN :lo AND :hi AND r.currency = :cur"
                f" AND s.kind IN ({kinds}) AND r.id <> :id"
                " AND ABS(r.amount_minor) BETWEEN :alo AND :ahi"
                " ORDER BY ABS(ABS(r.amount_minor) - :amt), r.id LIMIT 100"
            ),
            {
                "lo": me["booked_on"] - dt.timedelta(days=span),
                "hi": me["booked_on"] + dt.timedelta(days=span),
                "cur": me["currency"],
                "id": int(record_id),
                "alo": amt - slack,
                "ahi": amt + slack,
                "amt": amt,
            },
        )
    ]
    ids = list(dict.fromkeys([*shared, *near]))
    others = _rows(session, ids)
    blocked = _rejected_with(session, int(record_id))
    out = []
    for rid in ids:
        c = others.get(rid)
        if c is None or c["side"] == me["side"]:
            continue
        cand = Candidate(
            record_id=rid,
            source=c["source"],
            side=c["side"],
            kind=c["kind"],
            external_id=c["external_id"],
            booked_on=c["booked_on"],
            amount_minor=c["amount_minor"],
            currency=c["currency"],
            state=c["state"],
            match_id=c["match_id"],
        )
        _check(cand, me, c, shared.get(rid, []), blocked.get(rid), abs_tol, ppm, before, after)
        out.append(cand)
    out.sort(key=lambda x: (-x.score, abs(abs(x.amount_minor) - amt), x.record_id))
    return Explanation(record=me, candidates=out[:limit])


def _rejected_with(session: Session, record_id: int) -> dict[int, int]:
    rows = session.execute(
        text(
            "SELECT o.record_id, m.id FROM match_members mm JOIN matches m ON m.id = mm.match_id"
            " JOIN match_members o ON o.match_id = m.id AND o.record_id <> mm.record_id"
            " WHERE mm.record_id = :id AND m.status = 'rejected'"
        ),
        {"id": record_id},
    ).all()
    return {int(r): int(m) for r, m in rows}


def _check(
    cand: Candidate,
    me: dict[str, Any],
    c: dict[str, Any],
    shared: list[str],
    rejected_in: int | None,
    abs_tol: int,
    ppm: int,
    before: int,
    after: int,
) -> None:
    checks: list[Check] = []
    score = 100
    cur = me["currency"]
    if shared:
        checks.append(Check("reference", True, f"shares reference {shared[0]}"))
    else:
        checks.append(Check("reference", False, "no shared reference"))
        score -= 40
    if c["currency"] != cur:
        checks.append(Check("currency", False, f"currency {c['currency']} ≠ {cur}"))
        score -= 30
    mine, theirs = _camt(me), _camt(c)
    if (mine >= 0) != (theirs >= 0):
        checks.append(
            Check(
                "direction",
                False,
                f"opposite direction ({format_minor(theirs, c['currency'])} vs "
                f"{format_minor(mine, cur)})",
            )
        )
        score -= 30
    elif c["currency"] == cur:
        diff = abs(theirs) - abs(mine)
        allowed = max(abs_tol, abs(mine) * ppm // 1_000_000)
        net_diff = abs(c["net"]) - abs(mine) if c["fee"] else None
        if diff == 0:
            checks.append(Check("amount", True, "amount equal"))
        elif abs(diff) <= allowed:
            checks.append(
                Check(
                    "amount",
                    True,
                    f"amount off by {format_minor(abs(diff), cur)} within tolerance "
                    f"{format_minor(allowed, cur)}",
                )
            )
        elif net_diff is not None and abs(net_diff) <= allowed:
            checks.append(
                Check("amount", True, f"amount equal net of fee {format_minor(c['fee'], cur)}")
            )
        else:
            limit = _pct_text(ppm) if ppm else f"{format_minor(allowed, cur)} tolerance"
            checks.append(
                Check(
                    "amount",
                    False,
                    f"amount off by {format_minor(abs(diff), cur)} = "
                    f"{_ratio_text(diff, mine)} > {limit}",
                )
            )
            score -= min(30, 5 + int(Decimal(abs(diff)) * 100 / max(1, abs(mine))))
    # date, as the rules orient it: later side minus earlier side
    me_left = _RANK.get(me["side"], 3) < _RANK.get(c["side"], 3)
    delta = (c["booked_on"] - me["booked_on"]).days
    dd = delta if me_left else -delta
    if dd > after:
        checks.append(Check("date", False, f"date {dd:+d} d > {after} d window"))
        score -= min(20, 4 * (dd - after))
    elif dd < -before:
        checks.append(Check("date", False, f"date {dd:+d} d < -{before} d window"))
        score -= min(20, 4 * (-before - dd))
    else:
        checks.append(Check("date", True, f"date {dd:+d} d within window"))
    if rejected_in is not None:
        checks.append(Check("rejected", False, f"a clerk rejected this pair (match {rejected_in})"))
        score -= 50
    if c["state"] == "matched":
        checks.append(Check("state", False, f"already matched (match {c['match_id']})"))
        score -= 25
    elif c["state"] == "suggested":
        checks.append(Check("state", True, f"in suggested match {c['match_id']}"))
        score -= 5
    elif c["state"] in ("written_off", "ignored"):
        checks.append(Check("state", False, f"{c['state'].replace('_', ' ')}"))
        score -= 25
    cand.checks = checks
    cand.score = score
