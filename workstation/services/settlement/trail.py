"""The money trail: one graph from an order to its bank line, or from a bank line to its orders.

Every screen and `workstation trail ID` read it. Relations, all through the store:
- order <-> PSP line (or bank line, paid directly): their live level-1 match;
- refund / chargeback / reversal -> the charge it names (a "charge" reference token);
- charge -> its disputes (the dispute's charge record or links);
- PSP line -> its payout (same PSP account, payout id and currency);
- payout <-> bank line(s): their live level-2 match (`match_payouts`).
The trail is built as a tree from where it starts, each node once: from an order it goes
order -> charge -> refunds, disputes -> payout -> bank line; from a bank line or a payout it goes
to the payout's lines (the first LINE_CAP) and their orders. `Trail.outline()` lists it depth
first for a tree view; `as_json()` is what the CLI prints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ...errors import UserError
from ...money import format_minor
from ..common.reference_tokens import normalise

LINE_CAP = 200  # lines of one payout listed under it
_MAX_DEPTH = 8
_TYPE_OF_SOURCE = {"ledger": "order", "psp": "psp", "bank": "bank"}
_REL_PARTNER = {"order": "paid by", "psp": "for order", "bank": "paid by bank"}


@dataclass
class TrailNode:
    """One thing on the trail: a record (order, PSP line, bank line), a payout or a dispute."""

    key: str
    type: str  # order, psp, bank, other, payout, dispute
    kind: str
    label: str
    account: str | None
    booked_on: dt.date | None
    amount_minor: int | None
    currency: str | None
    status: str | None
    id: int


@dataclass
class TrailEdge:
    """parent -> child with what relates them (and the match that does, if any)."""

    parent: str
    child: str
    relation: str
    match_id: int | None = None


@dataclass
class OutlineRow:
    depth: int
    relation: str | None
    node: TrailNode


@dataclass
class Trail:
    """The graph, rooted where the question started."""

    query: str
    root: str
    nodes: dict[str, TrailNode] = field(default_factory=dict)
    edges: list[TrailEdge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def reaches_bank(self) -> bool:
        return any(n.type == "bank" for n in self.nodes.values())

    def of_type(self, kind: str) -> list[TrailNode]:
        return [n for n in self.nodes.values() if n.type == kind]

    def outline(self) -> list[OutlineRow]:
        children: dict[str, list[TrailEdge]] = {}
        for e in self.edges:
            children.setdefault(e.parent, []).append(e)
        out: list[OutlineRow] = []
        stack: list[tuple[int, str | None, str]] = [(0, None, self.root)]
        while stack:
            depth, rel, key = stack.pop()
            out.append(OutlineRow(depth, rel, self.nodes[key]))
            for e in reversed(children.get(key, [])):
                stack.append((depth + 1, e.relation, e.child))
        return out

    def as_json(self) -> dict[str, Any]:
        def node(n: TrailNode) -> dict[str, Any]:
            d = asdict(n)
            d["booked_on"] = n.booked_on.isoformat() if n.booked_on else None
            d["amount"] = format_minor(n.amount_minor, n.currency) if n.currency else None
            return d

        return {
            "query": self.query,
            "root": self.root,
            "reaches_bank": self.reaches_bank,
            "nodes": [node(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges],
            "notes": self.notes,
            "truncated": self.truncated,
        }


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


_RECORD = """
SELECT r.id, s.kind, r.kind, COALESCE(r.external_id, CAST(r.id AS VARCHAR(20))), s.name,
  r.booked_on, r.amount_minor, r.currency, r.match_state, r.source_id, r.payout_ref, r.description
FROM records r JOIN sources s ON s.id = r.source_id WHERE r.id IN :ids
"""
_PAYOUT = """
SELECT p.id, p.payout_ref, s.name, p.paid_on, COALESCE(p.payout_minor, p.net_minor), p.currency,
  p.state, EXISTS (SELECT 1 FROM match_payouts mp WHERE mp.payout_id = p.id AND mp.live)
FROM payouts p JOIN sources s ON s.id = p.source_id WHERE p.id IN :ids
"""


class _Builder:
    def __init__(self, session: Session, query: str) -> None:
        self.s = session
        self.trail = Trail(query=query, root="")
        self.extra: dict[str, tuple[int, str | None]] = {}  # record key -> source_id, payout_ref

    # --- nodes ------------------------------------------------------------------------------

    def _q(self, sql: str, **params: Any) -> list[Any]:
        stmt = text(sql)
        for k, v in params.items():
            if isinstance(v, list):
                stmt = stmt.bindparams(bindparam(k, expanding=True))
        return list(self.s.execute(stmt, params).all())

    def records(self, ids: list[int]) -> list[TrailNode]:
        out = []
        for r in self._q(_RECORD + " ORDER BY r.booked_on, r.id", ids=sorted(set(ids)) or [-1]):
            key = f"record:{r[0]}"
            node = TrailNode(
                key=key,
                type=_TYPE_OF_SOURCE.get(str(r[1]), "other"),
                kind=str(r[2]),
                label=str(r[3]),
                account=str(r[4]),
                booked_on=_day(r[5]),
                amount_minor=int(r[6]),
                currency=str(r[7]),
                status=str(r[8]),
                id=int(r[0]),
            )
            self.extra[key] = (int(r[9]), r[10])
            out.append(node)
        return out

    def payouts(self, ids: list[int]) -> list[TrailNode]:
        out = []
        for r in self._q(_PAYOUT + " ORDER BY p.paid_on, p.id", ids=sorted(set(ids)) or [-1]):
            out.append(
                TrailNode(
                    key=f"payout:{r[0]}",
                    type="payout",
                    kind="payout",
                    label=str(r[1]),
                    account=str(r[2]),
                    booked_on=_day(r[3]),
                    amount_minor=int(r[4]),
                    currency=str(r[5]),
                    status="paid" if r[7] else str(r[6]),
                    id=int(r[0]),
                )
            )
        return out

    def dispute(self, dispute_id: int) -> TrailNode | None:
        rows = self._q(
            "SELECT id, psp_dispute_id, psp, opened_at, amount_minor, currency, status"
            " FROM disputes WHERE id = :d",
            d=int(dispute_id),
        )
        if not rows:
            return None
        r = rows[0]
        return TrailNode(
            key=f"dispute:{r[0]}",
            type="dispute",
            kind="dispute",
            label=str(r[1]),
            account=str(r[2]),
            booked_on=_day(r[3]),
            amount_minor=-int(r[4]),
            currency=str(r[5]),
            status=str(r[6]),
            id=int(r[0]),
        )

    def add(self, node: TrailNode, parent: str | None, relation: str, match: int | None) -> bool:
        """Put a node on the tree under `parent`; False if it is there already."""
        if node.key in self.trail.nodes:
            return False
        self.trail.nodes[node.key] = node
        if parent is None:
            self.trail.root = node.key
        else:
            self.trail.edges.append(TrailEdge(parent, node.key, relation, match))
        return True

    # --- relations --------------------------------------------------------------------------

    def partners(self, record_id: int, level: int) -> list[tuple[int, int]]:
        """(match id, record id) of the other members of the record's live match at `level`."""
        rows = self._q(
            "SELECT o.match_id, o.record_id FROM match_members mm"
            " JOIN match_members o ON o.match_id = mm.match_id AND o.record_id <> mm.record_id"
            " AND o.live WHERE mm.record_id = :r AND mm.live AND mm.level = :lvl",
            r=record_id,
            lvl=level,
        )
        return [(int(a), int(b)) for a, b in rows]

    def linked_lines(self, charge_id: int) -> list[int]:
        rows = self._q(
            "SELECT DISTINCT x.record_id FROM record_references c"
            " JOIN record_references x ON x.value = c.value AND x.kind = 'charge'"
            " JOIN records r ON r.id = x.record_id"
            " WHERE c.record_id = :cid AND c.kind IN ('id', 'charge') AND x.record_id <> :cid"
            " AND r.kind <> 'charge'",
            cid=charge_id,
        )
        return [int(r[0]) for r in rows]

    def charge_of(self, record_id: int) -> int | None:
        rows = self._q(
            "SELECT MIN(c.id) FROM record_references x"
            " JOIN record_references y ON y.value = x.value AND y.record_id <> x.record_id"
            " JOIN records c ON c.id = y.record_id AND c.kind = 'charge'"
            " WHERE x.record_id = :r AND x.kind = 'charge'",
            r=record_id,
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def disputes_of_charge(self, charge_id: int) -> list[int]:
        rows = self._q(
            "SELECT id FROM disputes WHERE charge_record_id = :c UNION"
            " SELECT dispute_id FROM dispute_links WHERE record_id = :c",
            c=charge_id,
        )
        return sorted(int(r[0]) for r in rows)

    def payout_of(self, key: str) -> int | None:
        source_id, ref = self.extra.get(key, (None, None))
        if not ref:
            return None
        node = self.trail.nodes.get(key)
        rows = self._q(
            "SELECT id FROM payouts WHERE source_id = :s AND payout_ref = :r AND currency = :c",
            s=source_id,
            r=ref,
            c=node.currency if node else "",
        )
        return int(rows[0][0]) if rows else None

    def level2_of_payout(self, payout_id: int) -> tuple[int | None, list[int]]:
        rows = self._q(
            "SELECT mp.match_id, mm.record_id FROM match_payouts mp"
            " JOIN match_members mm ON mm.match_id = mp.match_id AND mm.side = 'bank' AND mm.live"
            " WHERE mp.payout_id = :p AND mp.live ORDER BY mm.record_id",
            p=payout_id,
        )
        return (int(rows[0][0]) if rows else None, [int(r[1]) for r in rows])

    def payouts_of_bank(self, record_id: int) -> list[tuple[int, int]]:
        rows = self._q(
            "SELECT mp.match_id, mp.payout_id FROM match_members mm"
            " JOIN match_payouts mp ON mp.match_id = mm.match_id AND mp.live"
            " WHERE mm.record_id = :r AND mm.live AND mm.level = 2 ORDER BY mp.payout_id",
            r=record_id,
        )
        return [(int(a), int(b)) for a, b in rows]

    def payout_line_ids(self, payout_id: int) -> tuple[list[int], int]:
        rows = self._q(
            "SELECT r.id FROM records r JOIN payouts p ON p.source_id = r.source_id"
            " AND p.payout_ref = r.payout_ref AND p.currency = r.currency"
            " WHERE p.id = :p AND r.kind <> 'payout' ORDER BY r.booked_on, r.id",
            p=payout_id,
        )
        ids = [int(r[0]) for r in rows]
        return ids[:LINE_CAP], len(ids)

    # --- expansion --------------------------------------------------------------------------

    def expand(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.trail.truncated = True
            return
        handler = getattr(self, f"_expand_{node.type}", None)
        if handler is not None:
            handler(node, parent_type, depth)

    def _children(
        self,
        parent: TrailNode,
        nodes: list[TrailNode],
        relation: str,
        match: int | None,
        depth: int,
    ) -> None:
        for n in nodes:
            if self.add(n, parent.key, relation, match):
                self.expand(n, parent.type, depth + 1)

    def _partners(self, node: TrailNode, level: int, depth: int, skip: str | None) -> None:
        for match_id, rid in self.partners(node.id, level):
            for n in self.records([rid]):
                if n.type == skip:
                    continue
                if self.add(n, node.key, _REL_PARTNER.get(n.type, "matched with"), match_id):
                    self.expand(n, node.type, depth + 1)

    def _expand_order(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        if parent_type == "psp":
            return  # reached from a payout's line: the order is where it ends
        self._partners(node, 1, depth, skip=None)

    def _expand_other(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        self._partners(node, 1, depth, skip=None)

    def _expand_psp(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        if parent_type == "payout":  # one of a payout's lines: just its order
            before = len(self.trail.edges)
            self._partners(node, 1, depth, skip="psp")
            if len(self.trail.edges) == before and node.kind != "charge":
                charge = self.charge_of(node.id)
                order = orders_for_charges(self.s, [charge]).get(charge) if charge else None
                if order is not None:
                    self._children(node, self.records([order]), "order of its charge", None, depth)
            return
        if parent_type != "order":
            self._partners(node, 1, depth, skip=None)
        if node.kind == "charge":
            for n in self.records(self.linked_lines(node.id)):
                if self.add(n, node.key, f"{n.kind.replace('_', ' ')} of this charge", None):
                    self.expand(n, node.type, depth + 1)
            for d_id in self.disputes_of_charge(node.id):
                d = self.dispute(d_id)
                if d is not None and self.add(d, node.key, "disputed in", None):
                    self.expand(d, "psp", depth + 1)
        elif parent_type not in ("psp", "dispute"):
            charge = self.charge_of(node.id)
            if charge is not None:
                self._children(node, self.records([charge]), "refers to charge", None, depth)
        pid = self.payout_of(node.key)
        if pid is not None:
            self._children(node, self.payouts([pid]), "settled in payout", None, depth)
        elif node.kind not in ("payout",) and node.status != "ignored":
            self.trail.notes.append(f"{node.kind} {node.label} is not in a payout yet")

    def carried_to(self, payout_id: int) -> int | None:
        """The payout a carried-forward batch's balance went to (the balance transfer line of
        the opposite amount in a later batch of the same PSP account)."""
        rows = self._q(
            "SELECT p2.id FROM records t JOIN payouts p ON p.source_id = t.source_id"
            " AND p.payout_ref = t.payout_ref AND p.currency = t.currency"
            " JOIN records t2 ON t2.source_id = t.source_id AND t2.kind = 'transfer'"
            " AND t2.amount_minor = -t.amount_minor AND t2.payout_ref <> t.payout_ref"
            " AND t2.booked_on >= t.booked_on"
            " JOIN payouts p2 ON p2.source_id = t2.source_id AND p2.payout_ref = t2.payout_ref"
            " AND p2.currency = t2.currency"
            " WHERE p.id = :p AND t.kind = 'transfer' AND t.amount_minor < 0"
            " ORDER BY t2.booked_on, p2.id",
            p=payout_id,
        )
        return int(rows[0][0]) if rows else None

    def _expand_payout(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        match_id, banks = self.level2_of_payout(node.id)
        carried = self.carried_to(node.id) if node.status == "carried_forward" else None
        if carried is not None and parent_type != "bank":
            self._children(node, self.payouts([carried]), "carried forward to", None, depth)
        elif parent_type != "bank":
            if banks:
                self._children(node, self.records(banks), "paid to bank", match_id, depth)
            elif node.status == "in_transit":
                self.trail.notes.append(
                    f"money not at the bank yet: payout {node.label} in transit since"
                    f" {node.booked_on}"
                )
            else:
                self.trail.notes.append(f"payout {node.label} is {node.status}: no bank line")
        if parent_type in (None, "bank"):
            ids, total = self.payout_line_ids(node.id)
            if total > len(ids):
                self.trail.truncated = True
                self.trail.notes.append(f"payout {node.label}: first {len(ids)} of {total} lines")
            self._children(node, self.records(ids), "line of payout", None, depth)

    def _expand_bank(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        if parent_type != "payout":
            for match_id, pid in self.payouts_of_bank(node.id):
                self._children(node, self.payouts([pid]), "settles payout", match_id, depth)
        if parent_type is None:
            self._partners(node, 1, depth, skip=None)

    def _expand_dispute(self, node: TrailNode, parent_type: str | None, depth: int) -> None:
        rows = self._q(
            "SELECT charge_record_id, order_record_id FROM disputes WHERE id = :d", d=node.id
        )
        links = self._q(
            "SELECT record_id, role FROM dispute_links WHERE dispute_id = :d ORDER BY record_id",
            d=node.id,
        )
        charge, order = rows[0] if rows else (None, None)
        if charge is not None:
            self._children(node, self.records([int(charge)]), "disputes charge", None, depth)
        for rid, role in links:
            self._children(node, self.records([int(rid)]), str(role), None, depth)
        if order is not None:
            self._children(node, self.records([int(order)]), "order", None, depth)


def trail_for_record(session: Session, record_id: int, query: str | None = None) -> Trail:
    b = _Builder(session, query or f"record {record_id}")
    nodes = b.records([int(record_id)])
    if not nodes:
        raise UserError(f"no record {record_id}")
    b.add(nodes[0], None, "", None)
    b.expand(nodes[0], None, 0)
    return b.trail


def trail_for_payout(session: Session, payout_id: int, query: str | None = None) -> Trail:
    b = _Builder(session, query or f"payout {payout_id}")
    nodes = b.payouts([int(payout_id)])
    if not nodes:
        raise UserError(f"no payout {payout_id}")
    b.add(nodes[0], None, "", None)
    b.expand(nodes[0], None, 0)
    return b.trail


def trail_for_dispute(session: Session, dispute_id: int, query: str | None = None) -> Trail:
    b = _Builder(session, query or f"dispute {dispute_id}")
    node = b.dispute(int(dispute_id))
    if node is None:
        raise UserError(f"no dispute {dispute_id}")
    b.add(node, None, "", None)
    b.expand(node, None, 0)
    return b.trail


_PREFER = {"order": 0, "psp": 1, "bank": 2, "other": 3}


def trail(session: Session, ident: str) -> Trail:
    """The trail of an order number, PSP charge / transaction id, payout id, bank reference or
    dispute id (tried in that order of specificity: dispute, payout, then any line's id)."""
    q = (ident or "").strip()
    if not q:
        raise UserError("give an order number, charge, payout, bank reference or dispute id")
    hit = session.execute(
        text("SELECT id FROM disputes WHERE psp_dispute_id = :q ORDER BY id"), {"q": q}
    ).first()
    if hit is not None:
        return trail_for_dispute(session, int(hit[0]), q)
    hit = session.execute(
        text("SELECT id FROM payouts WHERE payout_ref = :q ORDER BY id"), {"q": q}
    ).first()
    if hit is not None:
        return trail_for_payout(session, int(hit[0]), q)
    rows = session.execute(
        text(
            "SELECT r.id, s.kind, r.kind FROM records r JOIN sources s ON s.id = r.source_id"
            " WHERE r.external_id = :q OR r.id IN"
            " (SELECT record_id FROM record_references WHERE value = :v)"
        ),
        {"q": q, "v": normalise(q)},
    ).all()
    if not rows:
        raise UserError(f"nothing is known as {q!r}: no order, line, payout or dispute")

    def rank(r: Any) -> tuple[int, int, int]:
        side = _TYPE_OF_SOURCE.get(str(r[1]), "other")
        return (_PREFER[side], 0 if str(r[2]) in ("order", "charge") else 1, int(r[0]))

    best = min(rows, key=rank)
    t = trail_for_record(session, int(best[0]), q)
    if len(rows) > 1:
        t.notes.append(
            f"{len(rows)} lines carry {q!r}; the trail starts at {t.nodes[t.root].label}"
        )
    return t


def orders_for_charges(session: Session, charge_ids: list[int]) -> dict[int, int]:
    """charge record id -> the order its live level-1 match pairs it with."""
    out: dict[int, int] = {}
    ids = sorted({int(i) for i in charge_ids})
    stmt = text(
        "SELECT mm.record_id, MIN(o.record_id) FROM match_members mm"
        " JOIN match_members o ON o.match_id = mm.match_id AND o.side = 'order' AND o.live"
        " WHERE mm.live AND mm.level = 1 AND mm.record_id IN :ids GROUP BY mm.record_id"
    ).bindparams(bindparam("ids", expanding=True))
    for lo in range(0, len(ids), 500):
        for c, o in session.execute(stmt, {"ids": ids[lo : lo + 500]}).all():
            out[int(c)] = int(o)
    return out


def order_of_charge_sql(charge_id: Any) -> Any:
    """SQL scalar: the order a charge's live level-1 match pairs it with (for a join)."""
    from sqlalchemy import and_, func, select
    from sqlalchemy.orm import aliased

    from ...models import MatchMember

    mm, om = aliased(MatchMember), aliased(MatchMember)
    return (
        select(func.min(om.record_id))
        .select_from(mm)
        .join(om, and_(om.match_id == mm.match_id, om.side == "order", om.live))
        .where(mm.record_id == charge_id, mm.live, mm.level == 1)
        .scalar_subquery()
    )


def dispute_order_id(
    session: Session, order_record_id: int | None, charge_record_id: int | None
) -> int | None:
    """A dispute's order: the one it names, else the one its charge is matched to."""
    if order_record_id is not None:
        return order_record_id
    if charge_record_id is None:
        return None
    return orders_for_charges(session, [charge_record_id]).get(int(charge_record_id))
