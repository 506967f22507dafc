"""Exports of the reconciliation tables: matches (one row per member) and unmatched records.

Rows stream from keyset pages (`table_queries.iter_pages`), so a million-row export keeps memory
flat;
amounts are exact Decimal major units so spreadsheets show real numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ...exporters.table import Column, write_table
from ...money import from_minor
from . import table_queries

Progress = Callable[[int, int, str], None]

RECORD_COLUMNS = (
    Column("source_kind", width=10),
    Column("source", width=22),
    Column("external_id", width=30),
    Column("references", width=40),
    Column("date", "date", width=12),
    Column("amount", "money", width=14),
    Column("currency", width=9),
)
MATCH_COLUMNS = (
    Column("match_id", "int", width=10),
    Column("status", width=10),
    Column("rule", width=26),
    Column("confidence", "int", width=11),
    Column("level", "int", width=7),
    Column("member", width=8),
    *RECORD_COLUMNS,
    Column("payout_id", width=30),
)
UNMATCHED_COLUMNS = (
    Column("record_id", "int", width=10),
    Column("state", width=10),
    *RECORD_COLUMNS,
)


def match_rows(
    session: Session, filters: table_queries.MatchFilters | None = None, page_size: int = 2000
) -> Iterator[list[Any]]:
    """One row per match member, matches in id order; a level-2 (payout <-> bank) match also
    has one row per payout it settles (member "payout": its PSP account, payout id, date and
    expected bank amount), so a bank credit names the payouts it settled."""
    filters = filters or table_queries.MatchFilters()
    for page in table_queries.iter_pages(session, filters, table_queries.Sort("id"), page_size):
        ids = [int(r["id"]) for r in page]
        members = table_queries.match_members(session, ids)
        refs = table_queries.references_of(
            session, [m["record_id"] for ms in members.values() for m in ms]
        )
        levels, payouts = _levels_and_payouts(session, ids)
        for match in page:
            mid = int(match["id"])
            head = [
                mid,
                match["status"],
                match["rule"],
                int(match["confidence"]),
                levels.get(mid, 1),
            ]
            for m in members.get(mid, []):
                yield [
                    *head,
                    "line",
                    m["source_kind"],
                    m["source"],
                    m["external_id"],
                    ";".join(refs.get(int(m["record_id"]), [])),
                    table_queries.as_date(m["booked_on"]),
                    from_minor(int(m["amount_minor"]), m["currency"]),
                    m["currency"],
                    m["payout_ref"],
                ]
            for p in payouts.get(mid, []):
                yield [
                    *head,
                    "payout",
                    "psp",
                    p[1],
                    p[0],
                    "",
                    table_queries.as_date(p[2]),
                    from_minor(int(p[3]), p[4]),
                    p[4],
                    p[0],
                ]


def _levels_and_payouts(
    session: Session, match_ids: list[int]
) -> tuple[dict[int, int], dict[int, list[tuple[Any, ...]]]]:
    """Level of each match, and the payouts (ref, account, paid_on, amount, currency) of each."""
    if not match_ids:
        return {}, {}
    expand: Any = bindparam("ids", expanding=True)
    levels = {
        int(a): int(b)
        for a, b in session.execute(
            text("SELECT id, level FROM matches WHERE id IN :ids").bindparams(expand),
            {"ids": match_ids},
        ).all()
    }
    payouts: dict[int, list[tuple[Any, ...]]] = {}
    rows = session.execute(
        text(
            "SELECT mp.match_id, p.payout_ref, s.name, p.paid_on, mp.amount_minor, p.currency"
            " FROM match_payouts mp JOIN payouts p ON p.id = mp.payout_id"
            " JOIN sources s ON s.id = p.source_id WHERE mp.match_id IN :ids"
            " ORDER BY mp.match_id, p.paid_on, p.id"
        ).bindparams(expand),
        {"ids": match_ids},
    ).all()
    for r in rows:
        payouts.setdefault(int(r[0]), []).append(tuple(r[1:]))
    return levels, payouts


def unmatched_rows(
    session: Session, filters: table_queries.ExceptionFilters | None = None, page_size: int = 5000
) -> Iterator[list[Any]]:
    """One row per record the filters select (default: unmatched), by date."""
    filters = filters or table_queries.ExceptionFilters(states=("unmatched",))
    for page in table_queries.iter_pages(
        session, filters, table_queries.Sort("booked_on"), page_size
    ):
        refs = table_queries.references_of(session, [r["id"] for r in page])
        for r in page:
            yield [
                int(r["id"]),
                r["state"],
                r["source_kind"],
                r["source"],
                r["external_id"],
                ";".join(refs.get(int(r["id"]), [])),
                table_queries.as_date(r["booked_on"]),
                from_minor(int(r["amount_minor"]), r["currency"]),
                r["currency"],
            ]


def export_matches(
    session: Session,
    path: Path,
    filters: table_queries.MatchFilters | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write matches (one row per member) to .csv or .xlsx; returns the rows written."""
    return write_table(
        path, MATCH_COLUMNS, match_rows(session, filters), sheet_title="Matches", progress=progress
    )


def export_unmatched(
    session: Session,
    path: Path,
    filters: table_queries.ExceptionFilters | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write unmatched records to .csv or .xlsx; returns the rows written."""
    return write_table(
        path,
        UNMATCHED_COLUMNS,
        unmatched_rows(session, filters),
        sheet_title="Unmatched",
        progress=progress,
    )
